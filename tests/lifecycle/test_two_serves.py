"""Two real `syncledger serve` processes on one database (both backends): a stuck session is
flagged exactly once and removed by self-healing exactly once, whichever process gets there
first. Their clocks run three hours ahead (clock_offset_seconds), so nothing sleeps for the
rules' time to pass; the test only polls until the background work has acted.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain.infra.database import Database
from domain.ledger import Ledger
from domain.values import Context
from tests.api.test_serve_process import free_port

BIN = Path(sys.executable).parent / "syncledger"


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([str(BIN), *args], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture
def two_serves(database: Database, tmp_path: Path) -> Iterator[tuple[list[str], dict[str, str]]]:
    env = {
        **os.environ,
        "SYNCLEDGER_DATABASE_URL": database.url,
        "SYNCLEDGER_CLOCK_OFFSET_SECONDS": str(3 * 3600),
        "SYNCLEDGER_HOUSEKEEPING_INTERVAL_SECONDS": "0.2",
        "SYNCLEDGER_RUNNERS": "process",
    }
    tokens = {
        "worker": _cli(env, "tokens", "create", "agent", "--role", "worker"),
        "support": _cli(env, "tokens", "create", "jx-admin", "--role", "support"),
    }
    procs, urls = [], []
    for _ in range(2):
        port = free_port()
        procs.append(
            subprocess.Popen(
                [str(BIN), "serve", "--port", str(port)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd=tmp_path,
            )
        )
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url in urls:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/v1/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "syncledger serve did not start"
                time.sleep(0.2)
        yield urls, tokens
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_until(check: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the background work did not act in time"
        time.sleep(0.1)


def test_two_serve_processes_flag_once_and_remove_once(
    two_serves: tuple[list[str], dict[str, str]],
) -> None:
    (a, b), tokens = two_serves
    agent = httpx.Client(
        base_url=a, timeout=30, headers={"Authorization": f"Bearer {tokens['worker']}"}
    )
    admin = httpx.Client(
        base_url=b, timeout=30, headers={"Authorization": f"Bearer {tokens['support']}"}
    )
    reg = agent.post("/v1/registrations", json={"product": "accountlink", "file_id": "acme.qbw"})
    rid = reg.json()["id"]
    sid = agent.post(f"/v1/registrations/{rid}/sessions", json={"sync_type": "time"}).json()["id"]

    def of(kind: str) -> list[dict[str, Any]]:
        items = admin.get(f"/v1/registrations/{rid}/events", params={"limit": 1000}).json()
        return [e for e in items["items"] if e["type"] == kind]

    wait_until(lambda: len(of("Session.FlaggedStuck")) >= 1)
    time.sleep(1.0)  # several more rounds of both processes: nobody flags it again
    flags = of("Session.FlaggedStuck")
    assert len(flags) == 1 and flags[0]["actor"] == "syncledger"

    r = admin.patch(f"/v1/registrations/{rid}", json={"auto_remove_stuck_after_minutes": 150})
    assert r.status_code == 200, r.text
    wait_until(lambda: len(of("Session.Deleted")) >= 1)
    time.sleep(1.0)
    deleted = of("Session.Deleted")
    assert len(deleted) == 1 and deleted[0]["actor"] == "syncledger"
    assert len(of("Registration.SessionRemoved")) == 1
    session = admin.get(f"/v1/registrations/{rid}/sessions/{sid}").json()
    assert session["deleted"]["by"] == "syncledger"


def test_two_ledgers_racing_record_one_flag_and_one_deletion(database: Database) -> None:
    """Two processes' Ledgers, each with the session cached at the same version: the
    optimistic concurrency check lets exactly one record each action."""
    from datetime import UTC, datetime, timedelta

    first, second = Ledger(database=database), Ledger(database=database)
    ctx = Context("agent", "c1")
    rid = first.register(ctx, product="p", file_id="f").registration_id
    sid = first.start_session(ctx, rid, sync_type="time").session_id
    first.update_settings(Context("jx-admin", "c2"), rid, {"auto_remove_stuck_after_minutes": 150})
    second.get_session(rid, sid)  # both caches hold the same versions
    second.get_registration(rid)
    later = datetime.now(UTC) + timedelta(hours=3)
    assert first.flag_stuck(rid, sid, now=later) is not None
    assert second.flag_stuck(rid, sid, now=later) is None
    first.get_session(rid, sid)
    assert second.self_heal(rid, sid, now=later) is not None
    assert first.self_heal(rid, sid, now=later) is None
    kinds = [type(e).__qualname__ for e in first.events.get(first.get_session(rid, sid).id)]
    assert kinds.count("Session.FlaggedStuck") == 1 and kinds.count("Session.Deleted") == 1
