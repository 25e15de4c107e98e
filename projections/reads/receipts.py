"""Receipt reads: current receipts, counts, and the set-based diff."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from projections.digests import pack, unpack
from projections.fmt import clamp, decode_cursor, encode_cursor, iso
from projections.interface import Page, Row
from projections.reads.typed import typed_page
from projections.store import Tx

MAX_DIFF = 10_000
# The registration's compact number in view_session_records (a subquery).
REG_NO = "(SELECT reg_no FROM view_receipt_registrations WHERE registration_id = ?)"


def reg_no(tx: Tx, rid: str) -> int | None:
    row = tx.one("SELECT reg_no FROM view_receipt_registrations WHERE registration_id = ?", (rid,))
    return None if row is None else int(row[0])


def receipts(
    tx: Tx, rid: str, *, entity_type: str | None, key: str | None, limit: int, cursor: str | None
) -> Page:
    limit = clamp(limit)
    after = decode_cursor(cursor, str, str)
    rows = typed_page(
        tx,
        table="view_session_records",
        alias="r",
        scope=f"r.reg_no = {REG_NO} AND r.cur",
        scope_params=(rid,),
        select="r.key, r.digest, s.session_id, b.synced_at, r.position",
        joins="JOIN view_receipt_sessions s ON s.sess_no = r.sess_no "
        "JOIN view_receipt_batches b ON b.position = r.position",
        entity_type=entity_type,
        key=key,
        after=(after[0], after[1]) if after is not None else None,
        limit=limit + 1,
    )
    items = [
        {
            "entity_type": et,
            "key": k,
            "digest": unpack(d, tx.pg),
            "session_id": sid,
            "synced_at": iso(at),
            "position": pos,  # the event that recorded it (proofs: /receipts/proof)
        }
        for et, k, d, sid, at, pos in rows[:limit]
    ]
    nxt = encode_cursor(list(rows[limit - 1][:2])) if len(rows) > limit else None
    return Page(items, nxt)


def count_receipts(tx: Tx, rid: str) -> int:
    # Kept by the view as records come and receipts move (projections/views/records.py).
    row = tx.one(
        "SELECT receipts FROM view_receipt_registrations WHERE registration_id = ?", (rid,)
    )
    return int(row[0]) if row else 0


def diff(tx: Tx, rid: str, records: Sequence[tuple[str, str, str]]) -> Row:
    """Missing, changed and unchanged counts in one set-based query (after one lookup of
    the entity types' numbers).

    The query returns only the records that differ (their index and whether a receipt
    exists), probing the current records by the index (reg_no, et, key, cur).
    """
    if len(records) > MAX_DIFF:
        raise ValueError(f"at most {MAX_DIFF} records per diff")
    if not records:
        return {"missing": [], "changed": [], "unchanged": 0}
    reg = reg_no(tx, rid)
    rows: list[tuple[Any, ...]]
    if reg is None:
        rows = [(n, True) for n in range(len(records))]
    else:
        rows = _differing(tx, reg, records)
    missing: list[Row] = []
    changed: list[Row] = []
    for n, absent in rows:
        et, k = records[n][0], records[n][1]
        (missing if absent else changed).append({"entity_type": et, "key": k})
    return {
        "missing": missing,
        "changed": changed,
        "unchanged": len(records) - len(missing) - len(changed),
    }


def _differing(tx: Tx, reg: int, records: Sequence[tuple[str, str, str]]) -> list[tuple[Any, ...]]:
    """(index, absent) of the records whose receipt is absent or has another digest. Entity
    types are looked up first (a few per diff); an unknown one has no receipt (et 0)."""
    names = sorted({r[0] for r in records})
    marks = ", ".join("?" for _ in names)
    number = dict(
        tx.q(f"SELECT entity_type, et FROM view_entity_types WHERE entity_type IN ({marks})", names)
    )
    ets = [number.get(r[0], 0) for r in records]
    if tx.pg:
        # A scalar subquery per record: always 10,000 primary-key probes (a join may be
        # planned as a hash join over every receipt of the registration), and the arrays
        # sent in binary (%b), which saves their quoting and parsing. Digests are compared
        # in their stored form (projections/digests.py).
        keys = [r[1] for r in records]
        digests = [pack(r[2], True) for r in records]
        return list(
            tx.conn.execute(
                "SELECT n - 1, digest IS NULL FROM (SELECT i.n, i.d, (SELECT r.digest "
                "FROM view_session_records r WHERE r.reg_no = %s AND r.et = i.et "
                "AND r.key = i.k AND r.cur) AS digest "
                "FROM unnest(%b::int4[], %b::text[], %b::bytea[]) "
                "WITH ORDINALITY AS i(et, k, d, n)) x WHERE digest IS NULL OR digest <> d "
                "ORDER BY n",
                (reg, ets, keys, digests),
            ).fetchall()
        )
    # A stored BLOB is a digest sent as lowercase hex (projections/digests.py), so it
    # compares as its hex text (SQLite 3.40 has no unhex() to go the other way).
    return tx.q(
        "SELECT j.key, r.digest IS NULL FROM json_each(?) j "
        "LEFT JOIN view_session_records r ON r.reg_no = ? "
        "AND r.et = j.value ->> 0 AND r.key = j.value ->> 1 AND r.cur "
        "WHERE r.digest IS NULL OR (CASE WHEN typeof(r.digest) = 'blob' "
        "THEN lower(hex(r.digest)) ELSE r.digest END) <> j.value ->> 2 ORDER BY j.key",
        (orjson.dumps([[e, r[1], r[2]] for e, r in zip(ets, records, strict=True)]).decode(), reg),
    )
