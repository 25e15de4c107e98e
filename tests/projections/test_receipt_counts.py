"""A registration's receipt count is kept by the view (projections/views/records.py), not
counted per read: counting walked every record of the registration, 19 ms (SQLite) and
32 ms (PostgreSQL) per registration read at 100,000 receipts, and once per item of a list
page. The kept count must equal the marked rows after every kind of change: new keys,
superseded keys, a late record of an older session, several sessions in one page, a
deletion and its undo, a reset and its undo (rules 6-8), and a rebuild."""

from __future__ import annotations

from uuid import UUID

import pytest

from domain import Context, Ledger
from projections import ReadModels


def _assert_counts(models: ReadModels, *rids: UUID) -> None:
    for rid in rids:
        with models.store.read() as tx:
            row = tx.one(
                "SELECT COUNT(*) FROM view_session_records WHERE cur AND reg_no = "
                "(SELECT reg_no FROM view_receipt_registrations WHERE registration_id = ?)",
                (str(rid),),
            )
        marked = int(row[0]) if row else 0
        assert models.count_receipts(rid) == marked
        item = models.get_registration(rid)
        assert item is not None and item["receipts"] == marked


@pytest.mark.parametrize("one_page", [False, True], ids=["page_per_save", "one_page"])
def test_the_kept_count_follows_every_change(
    ledger: Ledger, models: ReadModels, ctx: Context, one_page: bool
) -> None:
    rid = ledger.register(ctx, product="p", file_id="count").registration_id
    other = ledger.register(ctx, product="p", file_id="other").registration_id

    def step() -> None:
        if not one_page:
            models.run_once()
            _assert_counts(models, rid, other)

    s1 = ledger.start_session(ctx, rid, sync_type="full").session_id
    ledger.record_batch(ctx, rid, s1, [["A", f"k{i}", "1"] for i in range(10)])
    step()
    s2 = ledger.start_session(ctx, rid, sync_type="time").session_id
    # Supersedes five keys, adds three, repeats one within the batch.
    ledger.record_batch(ctx, rid, s2, [["A", f"k{i}", "2"] for i in range(5, 13)])
    ledger.record_batch(ctx, rid, s2, [["A", "k12", "2b"], ["B", "k0", "2"]])
    step()
    # A late record of the older session: no new receipt for a key s2 holds, one for a new key.
    ledger.record_batch(ctx, rid, s1, [["A", "k7", "late"], ["A", "k20", "late"]])
    o1 = ledger.start_session(ctx, other, sync_type="full").session_id
    ledger.record_batch(ctx, other, o1, [["A", "k0", "o"]])
    step()
    ledger.complete_session(ctx, rid, s1)
    ledger.complete_session(ctx, rid, s2)
    models.run_once()
    _assert_counts(models, rid, other)
    assert models.count_receipts(rid) == 15  # k0..k12, B/k0, k20

    deleted = ledger.delete_session(ctx, rid, s2, reason="r", override=True, ticket="T-1")
    models.run_once()
    _assert_counts(models, rid, other)
    assert models.count_receipts(rid) == 11  # s1's k0..k9 and k20
    ledger.undo(ctx, deleted.position, reason="back")
    models.run_once()
    _assert_counts(models, rid, other)
    reset = ledger.reset_registration(ctx, rid, reason="r", confirm_file_id="count")
    models.run_once()
    _assert_counts(models, rid, other)
    assert models.count_receipts(rid) == 0 and models.count_receipts(other) == 1
    ledger.undo(ctx, reset.position, reason="back")
    models.run_once()
    _assert_counts(models, rid, other)
    assert models.count_receipts(rid) == 15
    assert models.rebuild().same
    _assert_counts(models, rid, other)
