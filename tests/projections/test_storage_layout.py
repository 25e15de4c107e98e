"""The lean receipts layout (projections/digests.py, projections/views/receipts.py) answers
exactly what was synced: odd digests, many entity types, and a database whose views an older
version built (both backends)."""

from __future__ import annotations

import hashlib
from typing import Any
from uuid import UUID

import pytest

from domain import Context, Database, Ledger
from projections import ReadModels

SHA = hashlib.sha256(b"x").hexdigest()
# Digests stored as bytes (lowercase hex, even length) and every kind that must stay text.
DIGESTS = [
    SHA,
    "00",
    "ab",
    SHA.upper(),
    "ABCD",
    "AbCd",
    "abc",
    "d",
    "0",
    "xyz",
    " ab",
    "ab ",
    "0x00",
    "é",
    "ĉafé☃",
    "\x01",
    "\x01ab",
    "ab" * 64,
]
# Entity types whose bytewise order is not their order of arrival (and not alphabetical).
ENTITY_TYPES = ["zeta", "Alpha", "alpha", "é", "B", "a b", "a", "AP Nominals", "~", "0"] + [
    f"type {n:02d}" for n in range(30, 0, -1)
]


def _sync(ledger: Ledger, ctx: Context, rid: UUID, records: list[list[str]]) -> str:
    sid = ledger.start_session(ctx, rid, sync_type="full").session_id
    ledger.record_batch(ctx, rid, sid, records)
    ledger.complete_session(ctx, rid, sid)
    return sid


def _all_receipts(models: ReadModels, rid: UUID, limit: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = models.receipts(rid, entity_type=None, key=None, limit=limit, cursor=cursor)
        items += page.items
        if page.next_cursor is None:
            return items
        cursor = page.next_cursor


def _all_session_records(
    models: ReadModels, rid: UUID, sid: str, limit: int
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = models.session_records(rid, sid, limit=limit, cursor=cursor)
        items += page.items
        if page.next_cursor is None:
            return items
        cursor = page.next_cursor


def test_odd_digests_round_trip(ledger: Ledger, models: ReadModels, ctx: Context) -> None:
    rid = ledger.register(ctx, product="p", file_id="digests").registration_id
    records = [["T", f"k{n:02d}", d] for n, d in enumerate(DIGESTS)]
    sid = _sync(ledger, ctx, rid, records)
    models.run_once()
    got = {(r["key"], r["digest"]) for r in _all_receipts(models, rid, 7)}
    assert got == {(k, d) for _, k, d in records}
    synced = _all_session_records(models, rid, sid, 5)
    assert [(r["key"], r["digest"]) for r in synced] == [(k, d) for _, k, d in records]
    assert all(r["receipt_current"] for r in synced)
    assert models.diff(rid, [tuple(r) for r in records]) == {  # type: ignore[misc]
        "missing": [],
        "changed": [],
        "unchanged": len(records),
    }
    # A digest differing only in case, length or encoding is a change, never the same bytes.
    changed = [
        ("T", "k00", SHA.upper()),
        ("T", "k03", SHA),
        ("T", "k04", "abcd"),
        ("T", "k06", "abc0"),
        ("T", "k07", "0d"),
        ("T", "k10", "ab"),
        ("T", "k01", "00"),
    ]
    result = models.diff(rid, changed)
    assert result["changed"] == [{"entity_type": "T", "key": k} for _, k, _ in changed[:-1]]
    assert result["unchanged"] == 1 and result["missing"] == []
    # A newer session with other digests supersedes; deleting it falls back to the first.
    second = _sync(ledger, ctx, rid, [["T", k, f"n{d}"[:128]] for _, k, d in records])
    models.run_once()
    assert {r["digest"] for r in _all_receipts(models, rid, 100)} == {
        f"n{d}"[:128] for d in DIGESTS
    }
    ledger.delete_session(ctx, rid, second, reason="test", ticket="T-1", override=True)
    models.run_once()
    assert {(r["key"], r["digest"]) for r in _all_receipts(models, rid, 100)} == got
    assert models.rebuild().same


def test_many_entity_types_keep_bytewise_order(
    ledger: Ledger, models: ReadModels, ctx: Context
) -> None:
    rid = ledger.register(ctx, product="p", file_id="types").registration_id
    other = ledger.register(ctx, product="p", file_id="other").registration_id
    records = [[et, f"{n % 3}", f"{n:064x}"] for n, et in enumerate(ENTITY_TYPES * 3)]
    records = list({(r[0], r[1]): r for r in records}.values())
    sid = _sync(ledger, ctx, rid, records)
    _sync(ledger, ctx, other, [["only here", "1", "aa"], ["zeta", "0", "bb"]])
    models.run_once()
    expected = sorted(
        ((et, k, d) for et, k, d in records), key=lambda r: (r[0].encode(), r[1].encode())
    )
    for limit in (1, 4, 1000):
        got = [(r["entity_type"], r["key"], r["digest"]) for r in _all_receipts(models, rid, limit)]
        assert got == expected
        synced = _all_session_records(models, rid, sid, limit)
        assert [(r["entity_type"], r["key"], r["digest"]) for r in synced] == expected
    page = models.receipts(rid, entity_type="é", key=None, limit=10, cursor=None)
    assert [(r["entity_type"], r["key"]) for r in page.items] == [
        ("é", "0"),
        ("é", "1"),
        ("é", "2"),
    ]
    one = models.receipts(rid, entity_type="a b", key="2", limit=10, cursor=None)
    assert [(r["entity_type"], r["key"]) for r in one.items] == [("a b", "2")]
    assert (
        models.receipts(rid, entity_type="only here", key=None, limit=10, cursor=None).items == []
    )
    breakdown = models.session_breakdown(rid, sid)
    assert [b["entity_type"] for b in breakdown] == sorted(ENTITY_TYPES, key=str.encode)
    assert all(b["records"] == 3 and b["current"] == 3 for b in breakdown)
    result = models.diff(rid, [("zeta", "0", expected[-3][2]), ("only here", "1", "aa")])
    assert result["missing"] == [{"entity_type": "only here", "key": "1"}]
    assert models.count_receipts(rid) == len(records)
    assert models.rebuild().same


# The receipts view's big tables as older versions created them: before the lean layout,
# and the lean layout with the current receipts in a table of their own.
TEXT_LAYOUT = {
    "view_session_records": (
        "reg_no {i} NOT NULL, sess_no {i} NOT NULL, seq {i} NOT NULL, entity_type {t} NOT NULL, "
        "key {t} NOT NULL, digest TEXT NOT NULL, synced_at {i}, position {i} NOT NULL, "
        "PRIMARY KEY (sess_no, entity_type, key)"
    ),
    "view_receipts": (
        "reg_no {i} NOT NULL, entity_type {t} NOT NULL, key {t} NOT NULL, digest TEXT NOT NULL, "
        "sess_no {i} NOT NULL, seq {i} NOT NULL, synced_at {i}, position {i} NOT NULL, "
        "PRIMARY KEY (reg_no, entity_type, key)"
    ),
}
TABLE_LAYOUT = {
    "view_session_records": (
        "reg_no {i} NOT NULL, sess_no {i} NOT NULL, et {i} NOT NULL, key {t} NOT NULL, "
        "digest {b} NOT NULL, position {i} NOT NULL, PRIMARY KEY (sess_no, et, key)"
    ),
    "view_receipts": (
        "reg_no {i} NOT NULL, et {i} NOT NULL, key {t} NOT NULL, digest {b} NOT NULL, "
        "sess_no {i} NOT NULL, seq {i} NOT NULL, position {i} NOT NULL, "
        "PRIMARY KEY (reg_no, et, key)"
    ),
}


@pytest.mark.parametrize("layout", [TEXT_LAYOUT, TABLE_LAYOUT], ids=["text", "table"])
def test_views_of_the_older_layout_are_rebuilt_from_the_log(
    database: Database, layout: dict[str, str]
) -> None:
    ledger = Ledger(database=database)
    ctx = Context("alice", "upgrade")
    rid = ledger.register(ctx, product="p", file_id="upgrade").registration_id
    records = [["A", f"{n:02d}", d] for n, d in enumerate(DIGESTS)]
    sid = _sync(ledger, ctx, rid, records)
    models = ReadModels(database)
    models.run_once()
    expected = _all_receipts(models, rid, 100)
    with models.store.write() as tx:  # what the older version left: its tables and rows
        i, t = ("BIGINT", 'TEXT COLLATE "C"') if tx.pg else ("INTEGER", "TEXT")
        b = "BYTEA" if tx.pg else "BLOB"
        if layout is TEXT_LAYOUT:
            tx.x("DROP TABLE view_receipt_batches")
        for table, columns in layout.items():
            tx.x(f"DROP TABLE IF EXISTS {table}")
            tx.x(f"CREATE TABLE {table} ({columns.format(i=i, t=t, b=b)})")
        stale = (
            "1, 'A', 'stale', 'old', 1, 1, 0, 1"
            if layout is TEXT_LAYOUT
            else ("1, 1, 'stale', 'old', 1, 1, 1")
        )
        tx.x(f"INSERT INTO view_receipts VALUES ({stale})")  # the log never made it
    models.close()
    models = ReadModels(database)
    try:
        assert models.positions()["receipts"] == 0  # the view starts again from the log
        models.run_once()
        assert _all_receipts(models, rid, 100) == expected
        got = _all_session_records(models, rid, sid, 100)
        assert [(r["key"], r["digest"]) for r in got] == [(k, d) for _, k, d in records]
        assert models.rebuild().same
    finally:
        models.close()
        ledger.close()
