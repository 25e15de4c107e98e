"""Runners in separate processes (issue 7): a runner killed with SIGKILL in the middle of a
catch-up resumes with no lost or doubled rows (both backends); two runner processes on one
PostgreSQL database, while the log grows, produce exactly-once views."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from uuid import UUID

from domain import Context, Database, Ledger
from projections import ReadModels

ROOT = Path(__file__).resolve().parents[2]
BATCHES, PER_BATCH, KEYS = 60, 200, 5_000

# argv: database URL, records per page, seconds to sleep inside each page's transaction
# (after its view rows are written, before the commit: where a kill hurts most), stop file.
RUNNER = """
import os, sys, time
from domain import Database
from projections import ReadModels, engine
from projections.events import head

url, cap, pause, stop = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
models = ReadModels(Database.from_url(url))
pages = 0
while True:
    if engine.process_page(models.store, models.views, max_records=cap,
                           before_commit=lambda tx: time.sleep(pause)) is not None:
        pages += 1
        continue
    with models.store.read() as tx:
        top = head(tx)
    if not stop or (os.path.exists(stop) and models.position() >= top):
        break
    time.sleep(0.005)
print(pages, flush=True)
models.close()
"""


def _spawn(database: Database, cap: int, pause: float, stop: str = "") -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", RUNNER, database.url, str(cap), str(pause), stop],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )


def _write(ledger: Ledger, ctx: Context, rid: UUID, first: int, last: int) -> None:
    """Batches first..last-1, a session per 20 batches; keys repeat across sessions."""
    sid = ""
    for b in range(first, last):
        if b % 20 == 0:
            if sid:
                ledger.complete_session(ctx, rid, sid)
            sid = ledger.start_session(ctx, rid, sync_type="periodic").session_id
        elif not sid:
            sid = ledger.start_session(ctx, rid, sync_type="custom").session_id
        ledger.record_batch(
            ctx,
            rid,
            sid,
            [["A", str((b * PER_BATCH + i) % KEYS), f"{b}"] for i in range(PER_BATCH)],
        )
    if sid:
        ledger.complete_session(ctx, rid, sid)


def _assert_exactly_once(models: ReadModels, ledger: Ledger, rid: UUID, batches: int) -> None:
    models.run_once()
    assert models.position() == ledger.current_position()
    with models.store.read() as tx:
        synced = tx.one("SELECT SUM(records_synced) FROM view_sessions")
        records = tx.one("SELECT COUNT(*) FROM view_session_records")
    assert synced is not None and synced[0] == batches * PER_BATCH  # no page applied twice
    assert records is not None and records[0] == batches * PER_BATCH  # keys unique per session
    assert models.count_receipts(rid) == min(KEYS, batches * PER_BATCH)
    report = models.rebuild()  # from position 0, compared with what the runners built
    assert report.same, report


def test_runner_killed_mid_catch_up_resumes_exactly_once(database: Database) -> None:
    ledger = Ledger(database=database)
    ctx = Context("alice", "kill")
    rid = ledger.register(ctx, product="p", file_id="kill").registration_id
    _write(ledger, ctx, rid, 0, BATCHES)
    head = ledger.current_position()
    models = ReadModels(database)
    try:
        runner = _spawn(database, cap=PER_BATCH * 2, pause=0.02)
        deadline = time.monotonic() + 60
        while models.position() < head // 3 and runner.poll() is None:
            assert time.monotonic() < deadline, "the runner made no progress"
            time.sleep(0.005)
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait(timeout=30)
        assert runner.returncode == -signal.SIGKILL
        assert 0 < models.position() < head  # killed in the middle of the catch-up
        _assert_exactly_once(models, ledger, rid, BATCHES)
    finally:
        models.close()
        ledger.close()


def test_two_runner_processes_postgres(postgres_database: Database, tmp_path: Path) -> None:
    database = postgres_database
    ledger = Ledger(database=database)
    ctx = Context("alice", "two")
    rid = ledger.register(ctx, product="p", file_id="two").registration_id
    _write(ledger, ctx, rid, 0, BATCHES // 2)
    stop = tmp_path / "stop"
    runners = [_spawn(database, cap=PER_BATCH * 3, pause=0.0, stop=str(stop)) for _ in range(2)]
    models = ReadModels(database)
    try:
        _write(ledger, ctx, rid, BATCHES // 2, BATCHES)  # the log grows while they run
        stop.touch()
        pages = []
        for runner in runners:
            out, _ = runner.communicate(timeout=120)
            assert runner.returncode == 0
            pages.append(int(out.split()[-1]))
        assert sum(pages) > 0
        _assert_exactly_once(models, ledger, rid, BATCHES)
    finally:
        for runner in runners:
            if runner.poll() is None:
                runner.kill()
        models.close()
        ledger.close()
