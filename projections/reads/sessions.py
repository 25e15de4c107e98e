"""Session history reads: list, detail (errors, deletion check), a session's records."""

from __future__ import annotations

from typing import Any

import orjson

from domain.policy import deletion_check
from projections.fmt import clamp, decode_cursor, encode_cursor, iso, now_micros
from projections.interface import Page, Row
from projections.store import Tx

COLS = (
    "agg_id, registration_id, session_id, seq, sync_type, status, started_at, ended_at, "
    "records_synced, error_count, worker, entity_types, request_id, last_activity_at, "
    "fail_reason, deleted, restored, is_deleted"
)
CUTOFF = (
    "COALESCE((SELECT MAX(x.cutoff) FROM view_session_resets x "
    "WHERE x.registration_id = s.registration_id AND x.active = 1), 0)"
)
NOT_REMOVED = f"s.is_deleted = 0 AND s.seq > {CUTOFF}"


def resets(tx: Tx, rid: str) -> list[tuple[Any, ...]]:
    """Active resets of a registration: (cutoff, position, actor, at, reason)."""
    return tx.q(
        "SELECT cutoff, position, actor, at, reason FROM view_session_resets "
        "WHERE registration_id = ? AND active = 1 ORDER BY position DESC",
        (rid,),
    )


def stuck_after(tx: Tx, rid: str) -> int | None:
    row = tx.one("SELECT stuck_after_minutes FROM view_registrations WHERE id = ?", (rid,))
    return int(row[0]) if row else None


def _json(value: Any) -> Any:
    return None if value is None else orjson.loads(value)


def to_item(
    row: tuple[Any, ...], active_resets: list[tuple[Any, ...]], stuck_minutes: int | None, now: int
) -> Row:
    (
        _,
        rid,
        sid,
        seq,
        sync_type,
        status,
        started,
        ended,
        records,
        errors,
        worker,
        types,
        request_id,
        last,
        fail_reason,
        deleted,
        restored,
        _is_deleted,
    ) = row
    removed_by = next((r for r in active_resets if seq <= r[0]), None)
    deleted_info = _json(deleted)
    if deleted_info is not None:
        deleted_info["at"] = iso(deleted_info["at"])
    restored_info = _json(restored)
    if restored_info is not None:
        restored_info["at"] = iso(restored_info["at"])
    removed = deleted_info is not None or removed_by is not None
    stuck = (
        status == "in_progress"
        and not removed
        and stuck_minutes is not None
        and now - int(last) > stuck_minutes * 60_000_000
    )
    return {
        "id": sid,
        "registration_id": rid,
        "seq": seq,
        "sync_type": sync_type,
        "status": status,
        "started_at": iso(started),
        "ended_at": iso(ended),
        "records_synced": records,
        "error_count": errors,
        "worker": worker,
        "entity_types": _json(types) or [],
        "request_id": request_id,
        "stuck": stuck,
        "last_activity_at": iso(last),
        "fail_reason": fail_reason,
        "deleted": deleted_info,
        "removed_by_reset": None
        if removed_by is None
        else {
            "position": removed_by[1],
            "by": removed_by[2],
            "at": iso(removed_by[3]),
            "reason": removed_by[4],
        },
        "restored": restored_info,
    }


def list_sessions(
    tx: Tx, rid: str, *, include_deleted: bool, limit: int, cursor: str | None
) -> Page:
    limit = clamp(limit)
    after = decode_cursor(cursor)
    where = ["s.registration_id = ?"]
    params: list[Any] = [rid]
    if not include_deleted:
        where.append(NOT_REMOVED)
    if after is not None:
        where.append("s.seq < ?")
        params.append(int(after[0]))
    rows = tx.q(
        f"SELECT {COLS} FROM view_sessions s WHERE {' AND '.join(where)} "
        "ORDER BY s.seq DESC LIMIT ?",
        (*params, limit + 1),
    )
    active, minutes, now = resets(tx, rid), stuck_after(tx, rid), now_micros()
    items = [to_item(r, active, minutes, now) for r in rows[:limit]]
    nxt = encode_cursor([rows[limit - 1][3]]) if len(rows) > limit else None
    return Page(items, nxt)


def get_session(tx: Tx, rid: str, sid: str) -> Row | None:
    row = tx.one(
        f"SELECT {COLS} FROM view_sessions s WHERE s.registration_id = ? AND s.session_id = ?",
        (rid, sid),
    )
    if row is None:
        return None
    item = to_item(row, resets(tx, rid), stuck_after(tx, rid), now_micros())
    errors = tx.q(
        "SELECT message, entity_type, key, at FROM view_session_errors WHERE agg_id = ? "
        "ORDER BY position",
        (row[0],),
    )
    item["errors"] = [
        {"message": m, "entity_type": et, "key": k, "at": iso(at)} for m, et, k, at in errors
    ]
    removed = item["deleted"] is not None or item["removed_by_reset"] is not None
    newest = tx.one(
        f"SELECT MAX(s.seq) FROM view_sessions s WHERE s.registration_id = ? "
        f"AND s.sync_type = ? AND {NOT_REMOVED}",
        (rid, item["sync_type"]),
    )
    most_recent = not removed and newest is not None and newest[0] == item["seq"]
    item["deletion_check"] = deletion_check(
        records_synced=item["records_synced"],
        status=item["status"],
        is_most_recent=most_recent,
    ).as_dict()
    return item


def session_records(
    tx: Tx,
    rid: str,
    sid: str,
    *,
    limit: int,
    cursor: str | None,
    entity_type: str | None = None,
    key: str | None = None,
) -> Page:
    limit = clamp(limit)
    after = decode_cursor(cursor)
    found = tx.one(
        "SELECT sess_no FROM view_receipt_sessions WHERE registration_id = ? AND session_id = ?",
        (rid, sid),
    )
    if found is None:
        return Page([], None)
    sess = int(found[0])
    where = "sr.sess_no = ?"
    params: list[Any] = [sess]
    if entity_type is not None:
        where += " AND sr.entity_type = ?"
        params.append(entity_type)
    if key is not None:
        where += " AND sr.key = ?"
        params.append(key)
    if after is not None:
        where += " AND (sr.entity_type > ? OR (sr.entity_type = ? AND sr.key > ?))"
        params += [after[0], after[0], after[1]]
    rows = tx.q(
        "SELECT sr.entity_type, sr.key, sr.digest, sr.synced_at, r.sess_no, sr.position "
        "FROM view_session_records sr LEFT JOIN view_receipts r "
        "ON r.reg_no = sr.reg_no AND r.entity_type = sr.entity_type "
        f"AND r.key = sr.key WHERE {where} ORDER BY sr.entity_type, sr.key LIMIT ?",
        (*params, limit + 1),
    )
    items = [
        {
            "entity_type": et,
            "key": k,
            "digest": d,
            "synced_at": iso(at),
            "receipt_current": cur == sess,
            "position": int(pos),  # the event that recorded it
        }
        for et, k, d, at, cur, pos in rows[:limit]
    ]
    nxt = encode_cursor(list(rows[limit - 1][:2])) if len(rows) > limit else None
    return Page(items, nxt)
