"""Receipt reads: current receipts, counts, and the set-based diff."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from projections.fmt import clamp, decode_cursor, encode_cursor, iso
from projections.interface import Page, Row
from projections.store import Tx

MAX_DIFF = 10_000


def receipts(tx: Tx, rid: str, *, entity_type: str | None, key: str | None, limit: int,
             cursor: str | None) -> Page:
    limit = clamp(limit)
    after = decode_cursor(cursor)
    where, params = ["registration_id = ?"], [rid]
    if entity_type is not None:
        where.append("entity_type = ?")
        params.append(entity_type)
    if key is not None:
        where.append("key = ?")
        params.append(key)
    if after is not None:
        where.append("(entity_type > ? OR (entity_type = ? AND key > ?))")
        params += [after[0], after[0], after[1]]
    rows = tx.q(
        "SELECT entity_type, key, digest, session_id, synced_at FROM view_receipts "
        f"WHERE {' AND '.join(where)} ORDER BY entity_type, key LIMIT ?",
        (*params, limit + 1),
    )
    items = [
        {"entity_type": et, "key": k, "digest": d, "session_id": sid, "synced_at": iso(at)}
        for et, k, d, sid, at in rows[:limit]
    ]
    nxt = encode_cursor(list(rows[limit - 1][:2])) if len(rows) > limit else None
    return Page(items, nxt)


def count_receipts(tx: Tx, rid: str) -> int:
    row = tx.one("SELECT COUNT(*) FROM view_receipts WHERE registration_id = ?", (rid,))
    return int(row[0]) if row else 0


def diff(tx: Tx, rid: str, records: Sequence[tuple[str, str, str]]) -> Row:
    """Missing, changed and unchanged counts in one set-based query."""
    if len(records) > MAX_DIFF:
        raise ValueError(f"at most {MAX_DIFF} records per diff")
    if not records:
        return {"missing": [], "changed": [], "unchanged": 0}
    rows: list[tuple[Any, ...]]
    if tx.pg:
        ets, keys, digests = (list(c) for c in zip(*records, strict=True))
        rows = tx.q(
            "SELECT i.et, i.k, CASE WHEN r.digest IS NULL THEN 0 "
            "WHEN r.digest = i.d THEN 2 ELSE 1 END FROM unnest(?::text[], ?::text[], "
            "?::text[]) WITH ORDINALITY AS i(et, k, d, n) LEFT JOIN view_receipts r "
            "ON r.registration_id = ? AND r.entity_type = i.et AND r.key = i.k ORDER BY i.n",
            (ets, keys, digests, rid),
        )
    else:
        rows = tx.q(
            "SELECT j.value ->> 0, j.value ->> 1, CASE WHEN r.digest IS NULL THEN 0 "
            "WHEN r.digest = j.value ->> 2 THEN 2 ELSE 1 END FROM json_each(?) j "
            "LEFT JOIN view_receipts r ON r.registration_id = ? "
            "AND r.entity_type = j.value ->> 0 AND r.key = j.value ->> 1 ORDER BY j.key",
            (orjson.dumps([list(r) for r in records]).decode(), rid),
        )
    missing = [{"entity_type": et, "key": k} for et, k, state in rows if state == 0]
    changed = [{"entity_type": et, "key": k} for et, k, state in rows if state == 1]
    return {"missing": missing, "changed": changed,
            "unchanged": len(rows) - len(missing) - len(changed)}
