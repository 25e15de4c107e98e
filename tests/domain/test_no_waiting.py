"""`no_waiting()`: a command that would wait for a lock raises WouldBlock, having saved
nothing, and the same command afterwards (where waiting is allowed) records it once.

The API runs small SQLite commands on its event loop this way (api/inline.py); these tests
hold each lock such a command can meet and check that it refuses before writing, and that
it never refuses once its events are saved (a refusal after the commit would make the
caller run it twice).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from domain.infra.database import Database
from domain.infra.locks import (
    WouldBlock,
    no_waiting,
    sqlite_write_lock,
    waiting_allowed,
)
from domain.ledger import Ledger
from domain.session import Session
from domain.values import Context
from projections.read_models import ReadModels
from tests.domain.ledger_testkit import all_events

CTX = Context("tester", "corr")


@pytest.fixture
def ledger(sqlite_database: Database) -> Iterator[Ledger]:
    ledger = Ledger(database=sqlite_database)
    yield ledger
    ledger.close()


def heartbeats(ledger: Ledger) -> int:
    return sum(isinstance(e, Session.Heartbeat) for _, e in all_events(ledger))


class HeldElsewhere:
    """`lock` held on another thread until `let_go()` (which returns once it is free)."""

    def __init__(self, lock: Any) -> None:
        taken, self.done = threading.Event(), threading.Event()

        def hold() -> None:
            with lock:
                taken.set()
                self.done.wait(30)

        self.thread = threading.Thread(target=hold, daemon=True)
        self.thread.start()
        assert taken.wait(30)

    def let_go(self) -> None:
        self.done.set()
        self.thread.join(30)


def test_a_taken_write_lock_refuses_before_saving(ledger: Ledger, tmp_path: Path) -> None:
    rid = ledger.register(CTX, product="p", file_id="f").registration_id
    sid = ledger.start_session(CTX, rid, sync_type="time").session_id
    before = heartbeats(ledger)
    assert ledger.database is not None
    held = HeldElsewhere(sqlite_write_lock(ledger.database.path))
    try:
        with pytest.raises(WouldBlock), no_waiting():
            ledger.heartbeat(CTX, rid, sid)
        assert waiting_allowed()  # the flag ends with its block
        assert heartbeats(ledger) == before  # nothing was written
    finally:
        held.let_go()
    # Where waiting is allowed, the same command records exactly one heartbeat: the
    # refused attempt left no half-applied state in the cached aggregates.
    ledger.heartbeat(CTX, rid, sid)
    assert heartbeats(ledger) == before + 1


def test_a_taken_registration_lock_refuses(ledger: Ledger) -> None:
    rid = ledger.register(CTX, product="p", file_id="f").registration_id
    sid = ledger.start_session(CTX, rid, sync_type="time").session_id
    before = heartbeats(ledger)
    held = HeldElsewhere(ledger.lock(rid))
    try:
        with pytest.raises(WouldBlock), no_waiting():
            ledger.heartbeat(CTX, rid, sid)
    finally:
        held.let_go()
    assert heartbeats(ledger) == before
    with no_waiting():  # nothing held now: no refusal
        ledger.heartbeat(CTX, rid, sid)
    assert heartbeats(ledger) == before + 1


def test_nothing_after_the_save_is_refused(ledger: Ledger) -> None:
    """Once the events are saved the flag is dropped: listeners (and the endpoint's answer)
    may wait, so they can never turn a saved command into a WouldBlock and a second run."""
    rid = ledger.register(CTX, product="p", file_id="f").registration_id
    sid = ledger.start_session(CTX, rid, sync_type="time").session_id
    seen: list[bool] = []
    ledger.on_saved(lambda position: seen.append(waiting_allowed()))
    with no_waiting():
        ledger.heartbeat(CTX, rid, sid)
        assert waiting_allowed()  # still inside the block, after the save
    assert seen == [True]


def test_the_views_not_yet_at_a_position_refuse(sqlite_database: Database) -> None:
    ledger = Ledger(database=sqlite_database)
    models = ReadModels(sqlite_database)
    try:
        position = ledger.register(CTX, product="p", file_id="f").position
        with pytest.raises(WouldBlock), no_waiting():
            models.wait_for(position, 5.0)  # no runner: they stay behind
        models.run_once()
        with no_waiting():
            assert models.wait_for(position, 5.0)
    finally:
        models.close()
        ledger.close()


def test_a_write_lock_held_by_another_process_refuses(ledger: Ledger, tmp_path: Path) -> None:
    import multiprocessing

    from tests.domain.test_write_lock import _hold

    rid = ledger.register(CTX, product="p", file_id="f").registration_id
    sid = ledger.start_session(CTX, rid, sync_type="time").session_id
    before = heartbeats(ledger)
    assert ledger.database is not None
    ctx = multiprocessing.get_context("spawn")
    started = ctx.Event()
    holder = ctx.Process(
        target=_hold, args=(ledger.database.path, 1.0, started, str(tmp_path / "log"))
    )
    holder.start()
    try:
        assert started.wait(30)
        with pytest.raises(WouldBlock), no_waiting():
            ledger.heartbeat(CTX, rid, sid)
        assert heartbeats(ledger) == before
        ledger.heartbeat(CTX, rid, sid)  # waits for the other process, then records
    finally:
        holder.join(30)
    assert heartbeats(ledger) == before + 1


def test_snapshots_after_the_commit_may_wait(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`save` takes snapshots after the events are committed (a write, and a read of the
    aggregate): a WouldBlock there would make the API run a committed command again (a
    start twice: 409 on the session the first run opened). The flag is dropped before."""
    rid = ledger.register(CTX, product="p", file_id="f").registration_id
    seen: list[bool] = []
    real = ledger._take_snapshots

    def snapshots(processing_event: Any) -> None:
        seen.append(waiting_allowed())
        real(processing_event)

    monkeypatch.setattr(ledger, "_take_snapshots", snapshots)
    with no_waiting():
        ledger.start_session(CTX, rid, sync_type="time")
    assert seen == [True]


@pytest.fixture
def pg_ledger(postgres_database: Database) -> Iterator[Ledger]:
    ledger = Ledger(database=postgres_database)
    yield ledger
    ledger.close()


def test_a_save_of_this_process_in_flight_refuses_on_postgres(pg_ledger: Ledger) -> None:
    """PostgreSQL: another thread's save is in flight (its group-commit call held open):
    a command that may not wait is refused before its call, and nothing of it is written."""
    ledger = pg_ledger
    rid = ledger.register(CTX, product="p", file_id="f").registration_id
    sid = ledger.start_session(CTX, rid, sync_type="time").session_id
    other = ledger.register(CTX, product="p", file_id="g").registration_id
    other_sid = ledger.start_session(CTX, other, sync_type="time").session_id
    before = heartbeats(ledger)
    group = ledger.recorder.group_commit  # type: ignore[attr-defined]
    inside, release = threading.Event(), threading.Event()

    def hold(_size: int) -> None:
        inside.set()
        release.wait(30)

    group.before_call = hold
    saver = threading.Thread(target=lambda: ledger.heartbeat(CTX, other, other_sid))
    saver.start()
    try:
        assert inside.wait(30)
        group.before_call = None
        with pytest.raises(WouldBlock), no_waiting():
            ledger.heartbeat(CTX, rid, sid)
    finally:
        release.set()
        saver.join(30)
    assert heartbeats(ledger) == before + 1  # the other thread's only
    with no_waiting():  # nothing in flight now: no refusal
        ledger.heartbeat(CTX, rid, sid)
    assert heartbeats(ledger) == before + 2


def test_no_idle_connection_refuses_on_postgres(pg_ledger: Ledger) -> None:
    ledger = pg_ledger
    rid = ledger.register(CTX, product="p", file_id="f").registration_id
    sid = ledger.start_session(CTX, rid, sync_type="time").session_id
    before = heartbeats(ledger)
    pool = ledger.recorder.datastore.pool  # type: ignore[attr-defined]
    taken = []
    while pool._pool:  # every idle connection borrowed by others
        taken.append(pool.getconn())
    try:
        with pytest.raises(WouldBlock), no_waiting():
            ledger.heartbeat(CTX, rid, sid)
    finally:
        for conn in taken:
            pool.putconn(conn)
    assert heartbeats(ledger) == before
    ledger.heartbeat(CTX, rid, sid)
    assert heartbeats(ledger) == before + 1
