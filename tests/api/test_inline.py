"""Small writes run on the event loop (api/inline.py), and a write that would wait for a
lock goes to a worker thread instead, so the loop keeps answering everyone else: on SQLite
the file's write lock, on PostgreSQL the log's lock held by another process's save."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.inline import Counts, InFlight
from domain.infra.database import Database
from domain.infra.eventlog import table_name
from domain.infra.locks import sqlite_write_lock
from tests.api.conftest import ROLES, Api


@pytest.fixture
def counts() -> Iterator[Counts]:
    before = (Counts.on_loop, Counts.to_thread)
    yield Counts
    Counts.on_loop, Counts.to_thread = before


def moved(counts: type[Counts], call: Any) -> tuple[int, int, Any]:
    loop, thread = counts.on_loop, counts.to_thread
    answer = call()
    return counts.on_loop - loop, counts.to_thread - thread, answer


@pytest.fixture
def quiet_api(app_database: Database) -> Iterator[Api]:
    """The app without its view runners and tree follower: nothing else takes the write
    lock, so where each write runs depends on the backend alone."""
    app = create_app(app_database, start_background=False)
    services = app.state.services
    tokens = {role: services.tokens.create(f"{role}-token", role) for role in ROLES}
    with TestClient(app) as client:
        yield Api(client, tokens)


def test_each_small_write_runs_on_the_loop(quiet_api: Api, counts: type[Counts]) -> None:
    api = quiet_api
    rid = api.register()["id"]
    sid = api.start(rid)["id"]
    base = f"/v1/registrations/{rid}/sessions/{sid}"
    writes = {
        "heartbeat": lambda: api.post(f"{base}/heartbeat", json={}),
        "error": lambda: api.post(f"{base}/errors", json={"message": "timeout"}),
        "complete": lambda: api.post(f"{base}/complete", json={}),
        "start": lambda: api.post(f"/v1/registrations/{rid}/sessions", json={"sync_type": "x"}),
        "register": lambda: api.post(
            "/v1/registrations", json={"product": "p", "file_id": "other.qbw"}
        ),
        "sync request": lambda: api.post(
            f"/v1/registrations/{rid}/sync-requests", json={"kind": "periodic"}, role="support"
        ),
    }
    for name, call in writes.items():
        loop, thread, answer = moved(counts, call)
        assert answer.status_code in (200, 201), (name, answer.text)
        assert (loop, thread) == (1, 0), name


@contextmanager
def held_log_lock(database: Database) -> Iterator[None]:
    """A save elsewhere, mid-commit: SQLite's file write lock taken by another thread, or
    PostgreSQL's log lock taken by another connection (another process)."""
    if database.kind == "sqlite":
        lock = sqlite_write_lock(database.path)
        taken, release = threading.Event(), threading.Event()

        def hold() -> None:  # a writer elsewhere (the view runner, another process) mid-page
            with lock:
                taken.set()
                release.wait(30)

        holder = threading.Thread(target=hold)
        holder.start()
        assert taken.wait(30)
        try:
            yield
        finally:
            release.set()
            holder.join(30)
        return
    with psycopg.connect(database.conninfo) as conn:
        conn.execute(f'LOCK TABLE "{database.schema}".{table_name("postgresql")} IN EXCLUSIVE MODE')
        yield  # held until this transaction ends


def test_a_held_log_lock_sends_the_write_to_a_thread_and_the_loop_keeps_answering(
    api: Api, app_database: Database, counts: type[Counts]
) -> None:
    rid = api.register()["id"]
    sid = api.start(rid)["id"]
    first = api.post(f"/v1/registrations/{rid}/sessions/{sid}/heartbeat", json={}).json()
    held = held_log_lock(app_database)
    held.__enter__()
    answers: list[Any] = []
    writer = threading.Thread(
        target=lambda: answers.append(
            api.post(f"/v1/registrations/{rid}/sessions/{sid}/heartbeat", json={})
        )
    )
    try:
        writer.start()
        deadline = time.monotonic() + 30
        while counts.to_thread == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert counts.to_thread >= 1  # refused on the loop, sent to a thread
        # The loop is free: another request answers while the write waits for the lock.
        assert api.get("/v1/health", role=None).status_code == 200
        assert api.get(f"/v1/registrations/{rid}").status_code == 200
        assert not answers  # the write is still waiting
    finally:
        held.__exit__(None, None, None)
        writer.join(30)
    assert answers and answers[0].status_code == 200, answers
    # Recorded once, right after the first heartbeat: the refused attempt wrote nothing.
    assert answers[0].json()["position"] == first["position"] + 1


def test_a_write_while_other_requests_are_in_flight_takes_the_thread(
    quiet_api: Api, counts: type[Counts], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Busy, a refusal at the save (cached aggregates evicted and rebuilt) costs more than
    the hand-off saves, and on PostgreSQL a write on the loop holds it for a round trip:
    the loop is tried only by the one request in flight, and only once requests have not
    arrived together for InFlight.QUIET_S."""
    api = quiet_api
    rid = api.register()["id"]
    sid = api.start(rid)["id"]
    clock = [1000.0]
    monkeypatch.setattr(InFlight, "clock", lambda: clock[0])
    heartbeat = lambda: api.post(f"/v1/registrations/{rid}/sessions/{sid}/heartbeat", json={})  # noqa: E731
    monkeypatch.setattr(InFlight, "crowded_at", float("-inf"))
    assert InFlight.count == 0  # between requests
    monkeypatch.setattr(InFlight, "count", 1)  # another request is being answered
    loop, thread, answer = moved(counts, heartbeat)
    assert answer.status_code == 200
    assert (loop, thread) == (0, 1)
    monkeypatch.setattr(InFlight, "count", 0)
    # Alone now, but requests arrived together a moment ago: still the thread.
    clock[0] += InFlight.QUIET_S / 2
    assert moved(counts, heartbeat)[:2] == (0, 1)
    clock[0] += InFlight.QUIET_S  # a quiet spell: the loop again
    assert moved(counts, heartbeat)[:2] == (1, 0)


def test_a_second_client_sends_writes_to_the_thread_until_it_has_gone(
    quiet_api: Api, counts: type[Counts], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write on the loop holds the loop, so other clients' requests wait unread and then
    each starts alone: counting requests in flight never sees them together. A request
    from another connection within QUIET_S is company too."""
    api = quiet_api
    rid = api.register()["id"]
    sid = api.start(rid)["id"]
    clock = [5000.0]
    monkeypatch.setattr(InFlight, "clock", lambda: clock[0])
    monkeypatch.setattr(InFlight, "crowded_at", float("-inf"))
    heartbeat = lambda: api.post(f"/v1/registrations/{rid}/sessions/{sid}/heartbeat", json={})  # noqa: E731
    assert moved(counts, heartbeat)[:2] == (1, 0)  # one client: the loop
    InFlight.arrived(("10.0.0.2", 40000))  # another agent's request, answered and gone
    InFlight.left()
    clock[0] += 0.001
    assert moved(counts, heartbeat)[:2] == (0, 1)  # company: the thread
    clock[0] += InFlight.QUIET_S / 2
    assert moved(counts, heartbeat)[:2] == (0, 1)
    clock[0] += InFlight.QUIET_S  # the other client has gone quiet: the loop again
    assert moved(counts, heartbeat)[:2] == (1, 0)


def test_each_small_read_runs_on_the_loop_and_a_replay_takes_the_thread(
    api: Api, counts: type[Counts], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page of a view is one indexed statement, so on PostgreSQL too the hand-off to a
    thread cost more than the read (issue 16: the receipts page was 0.54-0.64x health). A
    read that must wait for the views, or replays the log (as_of), still takes a thread."""
    monkeypatch.setattr(InFlight, "crowded_at", float("-inf"))
    rid = api.register()["id"]
    sid = api.start(rid)["id"]
    api.records(rid, sid, [("Client List", "c-1", "d1"), ("Client List", "c-2", "d2")])
    done = api.complete(rid, sid)
    settled = api.read(f"/v1/registrations/{rid}", done["position"])
    reads = {
        "registration": f"/v1/registrations/{rid}",
        "history": f"/v1/registrations/{rid}/sessions?limit=20",
        "detail": f"/v1/registrations/{rid}/sessions/{sid}",
        "receipts": f"/v1/registrations/{rid}/receipts?limit=100",
    }
    for name, path in reads.items():
        loop, thread, answer = moved(counts, lambda path=path: api.get(path))
        assert answer.status_code == 200, (name, answer.text)
        assert (loop, thread) == (1, 0), name
    assert api.get(reads["registration"]).json() == settled
    assert [r["key"] for r in api.get(reads["receipts"]).json()["items"]] == ["c-1", "c-2"]
    replay = f"/v1/registrations/{rid}/sessions?as_of_position={done['position']}"
    loop, thread, answer = moved(counts, lambda: api.get(replay))
    assert answer.status_code == 200, answer.text
    assert (loop, thread) == (0, 1)
    assert [s["id"] for s in answer.json()["items"]] == [sid]
    unknown = f"/v1/registrations/{rid}/sessions/00000000-0000-4000-8000-000000000000"
    assert moved(counts, lambda: api.get(unknown))[2].status_code == 404
