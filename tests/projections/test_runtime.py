"""Exactly-once under a crash mid-page, live runners, waiting for positions, rebuild."""

from __future__ import annotations

import pytest

from domain import Context, Ledger
from projections import ReadModels, engine
from projections.store import Tx


class Crash(Exception):
    pass


def _fill(ledger: Ledger, ctx: Context) -> None:
    rid = ledger.register(ctx, product="p", file_id="f").registration_id
    for n in range(3):
        sid = ledger.start_session(ctx, rid, sync_type="periodic").session_id
        for b in range(3):
            ledger.record_batch(ctx, rid, sid, [["A", f"{b}-{i}", f"{n}"] for i in range(50)])
        ledger.complete_session(ctx, rid, sid)


def test_crash_mid_batch_resumes_exactly_once(
    ledger: Ledger, models: ReadModels, ctx: Context
) -> None:
    _fill(ledger, ctx)

    def crash(tx: Tx) -> None:
        rows = tx.one("SELECT COUNT(*) FROM view_session_records")
        assert rows is not None and rows[0] > 0  # rows were written before the crash
        raise Crash

    with pytest.raises(Crash):
        engine.process_page(models.store, models.views, page_size=7, before_commit=crash)
    assert models.position() == 0
    engine.process_page(models.store, models.views, page_size=7)
    models.run_once()
    with models.store.read() as tx:
        records = tx.one("SELECT COUNT(*) FROM view_session_records")
        receipts = tx.one("SELECT COUNT(*) FROM view_session_records WHERE cur")
        sessions = tx.one("SELECT SUM(records_synced) FROM view_sessions")
    assert records is not None and records[0] == 3 * 150
    assert receipts is not None and receipts[0] == 150
    assert sessions is not None and sessions[0] == 3 * 150
    report = models.rebuild()
    assert report.same, report


def test_live_runner_and_wait_for(ledger: Ledger, models: ReadModels, ctx: Context) -> None:
    models.start()
    try:
        rid = ledger.register(ctx, product="p", file_id="live").registration_id
        sid = ledger.start_session(ctx, rid, sync_type="time").session_id
        pos = ledger.record_batch(ctx, rid, sid, [["A", "1", "x"]]).position
        assert models.wait_for(pos, timeout=10)
        assert models.count_receipts(rid) == 1
        assert not models.wait_for(pos + 1000, timeout=0.05)
    finally:
        models.stop()


def test_rebuild_reports_differences(ledger: Ledger, models: ReadModels, ctx: Context) -> None:
    _fill(ledger, ctx)
    models.run_once()
    with models.store.write() as tx:
        tx.x("UPDATE view_session_records SET digest = 'tampered' WHERE key = '0-1' AND cur")
        tx.x("DELETE FROM view_session_records WHERE key = '0-2' AND cur")
    seen: list[tuple[int, int]] = []
    report = models.rebuild(["receipts"], lambda done, total: seen.append((done, total)))
    diff = report.views["receipts"]["view_session_records"]
    assert (diff.differing, diff.only_shadow, diff.only_live) == (1, 1, 0)
    assert seen and seen[-1][0] == seen[-1][1]
    assert models.rebuild(["receipts"]).same
    assert models.position() == ledger.current_position()


def test_a_page_of_the_views_commits_without_waiting_for_the_disk(
    ledger: Ledger, models: ReadModels, ctx: Context
) -> None:
    """PostgreSQL: a page of the views is derived data (the log gives it again, and its
    positions are lost with it), so its commit does not wait for the WAL flush; the setting
    is the transaction's own and never reaches the next user of the pooled connection."""
    _fill(ledger, ctx)
    seen: list[str] = []

    def show(tx: Tx) -> None:
        if tx.pg:
            row = tx.one("SHOW synchronous_commit")
            seen.append(str(row[0]) if row else "")

    engine.process_page(models.store, models.views, page_size=7, before_commit=show)
    assert models.position() > 0
    if models.store.kind != "postgresql":
        return
    assert seen == ["off"]
    for _ in range(3):  # every pooled connection is back to the durable default
        with models.store.write() as tx:
            row = tx.one("SHOW synchronous_commit")
            assert row is not None and row[0] == "on"
