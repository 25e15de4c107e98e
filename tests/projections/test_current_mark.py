"""The current receipt is a mark on the session's record (projections/views/records.py):
one row per record, whatever the history, and exactly one marked row per key that has a
record in a session not removed (rules 6-8), on both backends."""

from __future__ import annotations

from uuid import UUID

import pytest

from domain import Context, Ledger
from projections import ReadModels
from projections.store import Tx


def _current(models: ReadModels, rid: UUID) -> dict[str, tuple[str, str]]:
    items = models.receipts(rid, limit=1000).items
    return {r["key"]: (r["digest"], r["session_id"]) for r in items}


def _one_mark_per_key(tx: Tx) -> None:
    twice = tx.q(
        "SELECT reg_no, et, key FROM view_session_records WHERE cur "
        "GROUP BY reg_no, et, key HAVING COUNT(*) > 1"
    )
    assert twice == []


@pytest.mark.parametrize("one_page", [False, True], ids=["page_per_save", "one_page"])
def test_an_older_session_syncing_later_does_not_take_the_receipt(
    ledger: Ledger, models: ReadModels, ctx: Context, one_page: bool
) -> None:
    rid = ledger.register(ctx, product="p", file_id="late").registration_id
    older = ledger.start_session(ctx, rid, sync_type="periodic").session_id
    newer = ledger.start_session(ctx, rid, sync_type="full").session_id

    def step() -> None:
        if not one_page:
            models.run_once()

    ledger.record_batch(ctx, rid, newer, [["A", "k", "from-newer"], ["A", "n", "n1"]])
    step()
    # The older session (lower seq) sends the same key afterwards: newer keeps it.
    ledger.record_batch(ctx, rid, older, [["A", "k", "from-older"], ["A", "o", "o1"]])
    step()
    ledger.record_batch(ctx, rid, older, [["A", "k", "from-older-2"]])
    models.run_once()
    assert _current(models, rid) == {
        "k": ("from-newer", newer),
        "n": ("n1", newer),
        "o": ("o1", older),
    }
    records = {r["key"]: r for r in models.session_records(rid, older, limit=10).items}
    assert records["k"]["digest"] == "from-older-2" and not records["k"]["receipt_current"]
    assert records["o"]["receipt_current"]
    assert models.diff(rid, [("A", "k", "from-newer"), ("A", "o", "o1")])["unchanged"] == 2

    deleted = ledger.delete_session(
        ctx, rid, newer, reason="r", override=True, ticket="T-1"
    ).position
    models.run_once()
    assert _current(models, rid) == {"k": ("from-older-2", older), "o": ("o1", older)}
    ledger.undo(ctx, deleted, reason="back")
    models.run_once()
    assert _current(models, rid)["k"] == ("from-newer", newer)
    reset = ledger.reset_registration(ctx, rid, reason="r", confirm_file_id="late").position
    models.run_once()
    assert _current(models, rid) == {}
    assert models.count_receipts(rid) == 0
    ledger.undo(ctx, reset, reason="back")
    models.run_once()
    assert _current(models, rid) == {
        "k": ("from-newer", newer),
        "n": ("n1", newer),
        "o": ("o1", older),
    }
    assert models.count_receipts(rid) == 3
    with models.store.read() as tx:
        _one_mark_per_key(tx)
    assert models.rebuild().same


def test_a_record_costs_one_row_of_the_views(
    ledger: Ledger, models: ReadModels, ctx: Context
) -> None:
    """Issue 16 (bytes per record): besides the session's record, no view table keeps a
    row per record, however many sessions synced and superseded the same keys."""
    rid = ledger.register(ctx, product="p", file_id="rows").registration_id
    records = 200
    for n in range(3):
        sid = ledger.start_session(ctx, rid, sync_type="full").session_id
        ledger.record_batch(ctx, rid, sid, [["A", f"{i}", f"{n}-{i}"] for i in range(records)])
        ledger.complete_session(ctx, rid, sid)
    models.run_once()
    assert models.count_receipts(rid) == records
    with models.store.read() as tx:
        _one_mark_per_key(tx)
        if tx.pg:
            tables = [
                str(r[0])
                for r in tx.q(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = current_schema()"
                )
            ]
        else:
            tables = [
                str(r[0]) for r in tx.q("SELECT name FROM sqlite_master WHERE type = 'table'")
            ]
        counts = {
            t: int(tx.q(f"SELECT COUNT(*) FROM {t}")[0][0]) for t in tables if t.startswith("view")
        }
    assert counts.pop("view_session_records") == 3 * records
    assert "view_receipts" not in counts
    assert max(counts.values()) < records, counts
