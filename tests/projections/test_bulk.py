"""Big pages: duplicate keys within a page, the PostgreSQL plain-INSERT fast path and its
fall back to the upsert, the per-page record cap (both backends)."""

from __future__ import annotations

from uuid import UUID

import pytest

from domain import Context, Ledger
from projections import ReadModels, engine
from projections.views import records as records_view


def _current(models: ReadModels, rid: UUID) -> dict[tuple[str, str], tuple[str, str]]:
    items = models.receipts(rid, limit=1000).items
    return {(r["entity_type"], r["key"]): (r["digest"], r["session_id"]) for r in items}


def test_duplicate_keys_within_one_page(ledger: Ledger, models: ReadModels, ctx: Context) -> None:
    rid = ledger.register(ctx, product="p", file_id="dups").registration_id
    first = ledger.start_session(ctx, rid, sync_type="periodic").session_id
    # The same key twice in one page (changed digest; rule 12 keeps batches free of
    # repeats), then again in a later batch.
    ledger.record_batch(ctx, rid, first, [["A", "1", "x"], ["B", "2", "b"]])
    ledger.record_batch(ctx, rid, first, [["A", "1", "y"]])
    ledger.record_batch(ctx, rid, first, [["A", "1", "z"], ["A", "3", "c"]])
    ledger.complete_session(ctx, rid, first)
    second = ledger.start_session(ctx, rid, sync_type="periodic").session_id
    ledger.record_batch(ctx, rid, second, [["A", "1", "w"], ["B", "2", "b2"]])
    models.run_once()  # one page holds everything
    assert _current(models, rid) == {
        ("A", "1"): ("w", second),
        ("B", "2"): ("b2", second),
        ("A", "3"): ("c", first),
    }
    records = models.session_records(rid, first, limit=10).items
    assert {(r["key"], r["digest"], r["receipt_current"]) for r in records} == {
        ("1", "z", False),
        ("2", "b", False),
        ("3", "c", True),
    }
    ledger.delete_session(ctx, rid, second, reason="r", override=True, ticket="T")
    models.run_once()
    assert _current(models, rid) == {
        ("A", "1"): ("z", first),
        ("B", "2"): ("b", first),
        ("A", "3"): ("c", first),
    }
    assert models.rebuild().same


def test_plain_insert_falls_back_to_upsert(
    ledger: Ledger, models: ReadModels, ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every page of new keys takes the plain INSERT (PostgreSQL), known keys the upsert.
    monkeypatch.setattr(records_view, "PLAIN_MIN_ROWS", 1)
    rid = ledger.register(ctx, product="p", file_id="plain").registration_id
    expected: dict[tuple[str, str], tuple[str, str]] = {}
    for n in range(4):
        sid = ledger.start_session(ctx, rid, sync_type="periodic").session_id
        batch = [["A", str(i), f"{n}-{i}"] for i in range(n * 5, n * 5 + 20)]
        ledger.record_batch(ctx, rid, sid, batch)
        ledger.record_batch(ctx, rid, sid, [["A", "0", f"again-{n}"]])
        ledger.complete_session(ctx, rid, sid)
        expected.update({("A", k): (d, sid) for _, k, d in batch})
        expected[("A", "0")] = (f"again-{n}", sid)
        models.run_once()
        assert _current(models, rid) == expected
    assert models.rebuild().same


def test_record_cap_splits_pages(ledger: Ledger, models: ReadModels, ctx: Context) -> None:
    rid = ledger.register(ctx, product="p", file_id="cap").registration_id
    sid = ledger.start_session(ctx, rid, sync_type="full").session_id
    for b in range(5):
        ledger.record_batch(ctx, rid, sid, [["A", f"{b}-{i}", "d"] for i in range(30)])
    ledger.complete_session(ctx, rid, sid)
    pages = 0
    while engine.process_page(models.store, models.views, max_records=50) is not None:
        pages += 1
    assert pages >= 3  # 150 records, at most ~50 (one batch past the cap) per page
    assert models.position() == ledger.current_position()
    assert models.count_receipts(rid) == 150
    session = models.get_session(rid, sid)
    assert session is not None and session["records_synced"] == 150
