"""Audit log reads: destructive actions and undos, by position."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from projections.fmt import clamp, decode_cursor, encode_cursor, iso, storable
from projections.interface import Page, Row
from projections.store import Tx

SELECT = (
    "SELECT a.position, a.type, a.registration_id, a.session_id, a.actor, a.at, a.reason, "
    "a.ticket, a.override, a.undo_of, a.undone_by, a.correlation_id, a.failed_checks, "
    "e.unsynced, e.restored, e.skipped, a.token_name FROM view_audit a "
    "LEFT JOIN view_receipt_effects e ON e.position = a.position"
)


def _item(row: tuple[Any, ...]) -> Row:
    (
        pos,
        kind,
        rid,
        sid,
        actor,
        at,
        reason,
        ticket,
        override,
        undo_of,
        undone_by,
        corr,
        failed,
        unsynced,
        restored,
        skipped,
        token_name,
    ) = row
    return {
        "position": pos,
        "type": kind,
        "registration_id": rid,
        "session_id": sid,
        "actor": actor,
        "at": iso(at),
        "reason": reason,
        "ticket": ticket,
        "override": None if override is None else bool(override),
        "unsynced": unsynced,
        "receipts_restored": restored,
        "receipts_skipped": skipped,
        "undo_of": undo_of,
        "undone_by": undone_by,
        "correlation_id": corr,
        "failed_checks": failed.split(",") if failed else [],
        "token_name": token_name,
    }


AUDIT_TYPES = (
    "session_deleted",
    "registration_reset",
    "deletion_undone",
    "reset_undone",
    "access_granted",
    "access_revoked",
)


@dataclass(frozen=True)
class AuditFilter:
    """Which audit entries to read: by registration, actor (exact token name), action type,
    and time (`since` inclusive, `until` exclusive, in µs since the epoch)."""

    registration_id: str | None = None
    actor: str | None = None
    type: str | None = None
    since: int | None = None
    until: int | None = None

    def where(self) -> tuple[list[str], list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        if self.registration_id is not None:
            where.append("a.registration_id = ?")
            params.append(self.registration_id)
        if self.actor is not None and not storable(self.actor):
            where.append("1 = 0")
        elif self.actor is not None:
            where.append("a.actor = ?")
            params.append(self.actor)
        if self.type is not None:
            if self.type not in AUDIT_TYPES:
                raise ValueError(f"unknown audit type {self.type!r}")
            where.append("a.type = ?")
            params.append(self.type)
        if self.since is not None:
            where.append("a.at >= ?")
            params.append(self.since)
        if self.until is not None:
            where.append("a.at < ?")
            params.append(self.until)
        return where, params


def audit_page(tx: Tx, filters: AuditFilter, *, limit: int, offset: int) -> tuple[list[Row], int]:
    """Newest first, for page numbers (the console), and how many entries match."""
    where, params = filters.where()
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    total = tx.one(f"SELECT COUNT(*) FROM view_audit a {clause}", params)
    rows = tx.q(
        f"{SELECT} {clause} ORDER BY a.position DESC LIMIT ? OFFSET ?",
        (*params, clamp(limit), max(0, int(offset))),
    )
    return [_item(r) for r in rows], int(total[0]) if total else 0


def audit_actors(tx: Tx) -> list[str]:
    return [str(a) for (a,) in tx.q("SELECT DISTINCT actor FROM view_audit ORDER BY 1") if a]


def audit(
    tx: Tx,
    *,
    registration_id: str | None,
    after: int | None,
    limit: int,
    cursor: str | None,
    filters: AuditFilter | None = None,
) -> Page:
    limit = clamp(limit)
    start = decode_cursor(cursor, int)
    where, params = (filters or AuditFilter()).where()
    if registration_id is not None:
        where.append("a.registration_id = ?")
        params.append(registration_id)
    floor = max(after or 0, int(start[0]) if start else 0)
    if floor:
        where.append("a.position > ?")
        params.append(floor)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    rows = tx.q(f"{SELECT} {clause} ORDER BY a.position LIMIT ?", (*params, limit + 1))
    nxt = encode_cursor([rows[limit - 1][0]]) if len(rows) > limit else None
    return Page([_item(r) for r in rows[:limit]], nxt)


def audit_entry(tx: Tx, position: int) -> Row | None:
    """The entry at `position`, or the action whose compensating event is at `position`."""
    row = tx.one(
        f"{SELECT} WHERE a.position = ? OR (a.position = ? AND a.type IN "
        "('session_deleted', 'registration_reset')) ORDER BY a.position DESC LIMIT 1",
        (position, position - 1),
    )
    return None if row is None else _item(row)


def sync_requests(tx: Tx, rid: str, *, status: str | None, limit: int, cursor: str | None) -> Page:
    limit = clamp(limit)
    start = decode_cursor(cursor, int)
    where: list[str] = ["registration_id = ?"]
    params: list[Any] = [rid]
    if status is not None:
        where.append("status = ?")
        params.append(status)
    if start is not None:
        where.append("position > ?")
        params.append(int(start[0]))
    rows = tx.q(
        "SELECT request_id, kind, status, requested_by, requested_at, fulfilled_by_session, "
        "fulfilled_at, cancelled_by, cancelled_at, cancel_reason, position "
        f"FROM view_sync_requests WHERE {' AND '.join(where)} "
        "ORDER BY position LIMIT ?",
        (*params, limit + 1),
    )
    items = [
        {
            "id": rq,
            "kind": kind,
            "status": st,
            "requested_by": by,
            "requested_at": iso(at),
            "fulfilled_by_session": sess,
            "fulfilled_at": iso(fat),
            "cancelled_by": cby,
            "cancelled_at": iso(cat),
            "cancel_reason": why,
        }
        for rq, kind, st, by, at, sess, fat, cby, cat, why, _ in rows[:limit]
    ]
    nxt = encode_cursor([rows[limit - 1][7]]) if len(rows) > limit else None
    return Page(items, nxt)
