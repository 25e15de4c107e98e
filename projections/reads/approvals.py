"""Approvals (rule 17): the list support and auditors review, one approval."""

from __future__ import annotations

from typing import Any

import orjson

from projections.fmt import clamp, decode_cursor, encode_cursor, iso
from projections.interface import Page, Row
from projections.store import Tx

COLS = (
    "id, action, registration_id, session_id, requested_by, requested_at, reason, ticket, "
    "status, decided_by, decided_at, decision_reason, expires_at, result, position"
)


def _item(r: tuple[Any, ...]) -> Row:
    return {
        "id": r[0],
        "action": r[1],
        "registration_id": r[2],
        "session_id": r[3],
        "requested_by": r[4],
        "requested_at": iso(r[5]),
        "reason": r[6],
        "ticket": r[7],
        "status": r[8],
        "decided_by": r[9],
        "decided_at": iso(r[10]),
        "decision_reason": r[11],
        "expires_at": iso(r[12]),
        "result": None if r[13] is None else orjson.loads(r[13]),
        "position": int(r[14]),
    }


def list_approvals(tx: Tx, *, status: str | None, limit: int, cursor: str | None) -> Page:
    limit = clamp(limit)
    after = decode_cursor(cursor, int)
    where, params = [], list[Any]()
    if status is not None:
        where.append("status = ?")
        params.append(status)
    if after is not None:
        where.append("position < ?")
        params.append(int(after[0]))
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    rows = tx.q(
        f"SELECT {COLS} FROM view_approvals {clause} ORDER BY position DESC LIMIT ?",
        (*params, limit + 1),
    )
    nxt = encode_cursor([rows[limit - 1][14]]) if len(rows) > limit else None
    return Page([_item(r) for r in rows[:limit]], nxt)


def approval(tx: Tx, approval_id: str) -> Row | None:
    row = tx.one(f"SELECT {COLS} FROM view_approvals WHERE id = ?", (approval_id,))
    return None if row is None else _item(row)
