"""Session history reads: list, detail (errors, deletion check), a session's records."""

from __future__ import annotations

from typing import Any

import orjson

from domain.liveness import is_stuck
from domain.policy import deletion_check
from projections.digests import unpack
from projections.fmt import clamp, decode_cursor, encode_cursor, iso, now_micros
from projections.interface import Page, Row
from projections.reads.typed import typed_page
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
# The reset in force that removes session s, newest first (as `resets` orders them), if any.
RESET_OF_ROW = (
    "LEFT JOIN view_session_resets r ON r.registration_id = s.registration_id AND r.chain = ("
    "SELECT r2.chain FROM view_session_resets r2 WHERE r2.registration_id = s.registration_id "
    "AND r2.active = 1 AND s.seq <= r2.cutoff ORDER BY r2.position DESC LIMIT 1)"
)
REMOVED = f"(s.is_deleted = 1 OR s.seq <= {CUTOFF})"
STUCK_MINUTES = (
    "(SELECT g.stuck_after_minutes FROM view_registrations g WHERE g.id = s.registration_id)"
)
PAGE_COLS = (
    ", ".join(f"s.{c}" for c in COLS.split(", "))
    + f", r.cutoff, r.position, r.actor, r.at, r.reason, {STUCK_MINUTES}"
)


def stuck_sql(now_param: str = "?") -> str:
    """Set-based form of the "stuck" test in `to_item` (rule 10): in progress, not removed,
    no activity for longer than the registration's stuck_after_minutes. Takes `now` (µs)."""
    return (
        f"(s.status = 'in_progress' AND {NOT_REMOVED} AND "
        f"s.last_activity_at < {now_param} - {STUCK_MINUTES} * 60000000)"
    )


# Session filters the API and the console offer (`status`); each is a WHERE fragment taking
# `now` where it needs it. "in_progress" means in progress and not stuck, as the console shows.
STATUS_FILTERS = ("in_progress", "stuck", "completed", "failed", "deleted")


def session_filter(status: str | None, has_errors: bool | None, now: int) -> tuple[str, list[Any]]:
    """WHERE fragments (joined by AND, alias s) for a status filter, plus their parameters."""
    where: list[str] = []
    params: list[Any] = []
    if status == "deleted":
        where.append(REMOVED)
    elif status == "stuck":
        where.append(stuck_sql())
        params.append(now)
    elif status == "in_progress":
        where.append(f"s.status = 'in_progress' AND {NOT_REMOVED} AND NOT {stuck_sql()}")
        params.append(now)
    elif status in ("completed", "failed"):
        where.append(f"s.status = ? AND {NOT_REMOVED}")
        params.append(status)
    elif status is not None:
        raise ValueError(f"unknown session status {status!r}")
    if has_errors is True:
        where.append("s.error_count > 0")
    elif has_errors is False:
        where.append("s.error_count = 0")
    return " AND ".join(where), params


def _json(value: Any) -> Any:
    return None if value is None else orjson.loads(value)


def to_item(row: tuple[Any, ...], now: int) -> Row:
    """A session as the API writes it, from a row of PAGE_COLS: its columns, then the reset
    in force that removes it (RESET_OF_ROW; nulls for none) and its registration's
    stuck_after_minutes. One function, the row unpacked once: a history page builds twenty
    (issue 16)."""
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
        cutoff,
        reset_position,
        reset_by,
        reset_at,
        reset_reason,
        stuck_minutes,
    ) = row
    removed_by_reset = (
        None
        if cutoff is None or seq > cutoff
        else {
            "position": reset_position,
            "by": reset_by,
            "at": iso(reset_at),
            "reason": reset_reason,
        }
    )
    deleted_info = _json(deleted)
    if deleted_info is not None:
        deleted_info["at"] = iso(deleted_info["at"])
    restored_info = _json(restored)
    if restored_info is not None:
        restored_info["at"] = iso(restored_info["at"])
    removed = deleted_info is not None or removed_by_reset is not None
    stuck = stuck_minutes is not None and is_stuck(
        status=status,
        removed=removed,
        last_activity_at=int(last),
        stuck_after_minutes=int(stuck_minutes),
        now=now,
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
        "removed_by_reset": removed_by_reset,
        "restored": restored_info,
    }


def _session_where(
    rid: str, include_deleted: bool, status: str | None, has_errors: bool | None, now: int
) -> tuple[list[str], list[Any]]:
    where = ["s.registration_id = ?"]
    params: list[Any] = [rid]
    if not include_deleted and status != "deleted":
        where.append(NOT_REMOVED)
    fragment, extra = session_filter(status, has_errors, now)
    if fragment:
        where.append(fragment)
        params += extra
    return where, params


def list_sessions(
    tx: Tx,
    rid: str,
    *,
    include_deleted: bool,
    limit: int,
    cursor: str | None,
    status: str | None = None,
    has_errors: bool | None = None,
    offset: int = 0,
    now: int | None = None,
) -> Page:
    """Most recent first. `cursor` pages forward (the API); `offset` is for page numbers."""
    limit = clamp(limit)
    after = decode_cursor(cursor, int)
    now = now_micros() if now is None else now
    where, params = _session_where(rid, include_deleted, status, has_errors, now)
    if after is not None:
        where.append("s.seq < ?")
        params.append(int(after[0]))
    # One statement: each row carries the reset that removes it (if any) and its
    # registration's stuck_after, so the page needs no other query and no transaction.
    rows = tx.q(
        f"SELECT {PAGE_COLS} FROM view_sessions s {RESET_OF_ROW} "
        f"WHERE {' AND '.join(where)} ORDER BY s.seq DESC LIMIT ? OFFSET ?",
        (*params, limit + 1, max(0, int(offset))),
    )
    items = [to_item(r, now) for r in rows[:limit]]
    nxt = encode_cursor([rows[limit - 1][3]]) if len(rows) > limit else None
    return Page(items, nxt)


def count_sessions(
    tx: Tx, rid: str, *, include_deleted: bool, status: str | None, has_errors: bool | None
) -> int:
    where, params = _session_where(rid, include_deleted, status, has_errors, now_micros())
    row = tx.one(f"SELECT COUNT(*) FROM view_sessions s WHERE {' AND '.join(where)}", params)
    return int(row[0]) if row else 0


def session_errors(tx: Tx, rid: str, sid: str, *, limit: int, offset: int) -> list[Row]:
    """One page of a session's errors, in the order they were recorded."""
    rows = tx.q(
        "SELECT e.message, e.entity_type, e.key, e.at FROM view_session_errors e "
        "JOIN view_sessions s ON s.agg_id = e.agg_id "
        "WHERE s.registration_id = ? AND s.session_id = ? ORDER BY e.position LIMIT ? OFFSET ?",
        (rid, sid, clamp(limit), max(0, int(offset))),
    )
    return [{"message": m, "entity_type": et, "key": k, "at": iso(at)} for m, et, k, at in rows]


def session_breakdown(tx: Tx, rid: str, sid: str) -> list[Row]:
    """Records a session synced, per entity type: how many, and how many still hold the
    current receipt (one GROUP BY, not a row per record)."""
    found = tx.one(
        "SELECT sess_no FROM view_receipt_sessions WHERE registration_id = ? AND session_id = ?",
        (rid, sid),
    )
    if found is None:
        return []
    rows = tx.q(
        "SELECT t.entity_type, x.n, x.c FROM (SELECT sr.et, COUNT(*) AS n, "
        "COALESCE(SUM(CASE WHEN sr.cur THEN 1 ELSE 0 END), 0) AS c "
        "FROM view_session_records sr WHERE sr.sess_no = ? GROUP BY sr.et) x "
        "JOIN view_entity_types t ON t.et = x.et ORDER BY t.entity_type",
        (int(found[0]),),
    )
    return [{"entity_type": et, "records": int(n), "current": int(c)} for et, n, c in rows]


# The newest not-removed session of session s's sync type (rule 5, "most recent").
NEWEST_OF_TYPE = (
    "(SELECT MAX(n.seq) FROM view_sessions n WHERE n.registration_id = s.registration_id "
    "AND n.sync_type = s.sync_type AND n.is_deleted = 0 AND n.seq > COALESCE((SELECT "
    "MAX(x.cutoff) FROM view_session_resets x WHERE x.registration_id = n.registration_id "
    "AND x.active = 1), 0))"
)


# A session's errors (its detail lists them all), as one JSON column of its read; the
# position last, to put them in the order they were recorded.
_ERROR_COLS = "e.message, e.entity_type, e.key, e.at, e.position"
_ERRORS_OF_S = "FROM view_session_errors e WHERE e.agg_id = s.agg_id"


def get_session(tx: Tx, rid: str, sid: str, now: int | None = None) -> Row | None:
    # The session with its reset, stuck_after, the newest of its type and its errors in one
    # statement, so it needs no transaction (issue 16: seven round trips on PostgreSQL
    # were four, now one).
    row = tx.one(
        f"SELECT {PAGE_COLS}, {NEWEST_OF_TYPE}, {tx.json_rows(_ERROR_COLS, _ERRORS_OF_S)} "
        f"FROM view_sessions s {RESET_OF_ROW} WHERE s.registration_id = ? AND s.session_id = ?",
        (rid, sid),
    )
    if row is None:
        return None
    now = now_micros() if now is None else now
    item = to_item(row[:-2], now)
    newest = row[-2]
    errors = sorted(orjson.loads(row[-1]), key=lambda e: int(e[4]))
    item["errors"] = [
        {"message": m, "entity_type": et, "key": k, "at": iso(at)} for m, et, k, at, _ in errors
    ]
    removed = item["deleted"] is not None or item["removed_by_reset"] is not None
    most_recent = not removed and newest is not None and newest == item["seq"]
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
    after = decode_cursor(cursor, str, str)
    found = tx.one(
        "SELECT sess_no FROM view_receipt_sessions WHERE registration_id = ? AND session_id = ?",
        (rid, sid),
    )
    if found is None:
        return Page([], None)
    sess = int(found[0])
    rows = typed_page(
        tx,
        table="view_session_records",
        alias="sr",
        scope="sr.sess_no = ?",
        scope_params=(sess,),
        select="sr.key, sr.digest, b.synced_at, sr.cur, sr.position",
        joins="JOIN view_receipt_batches b ON b.position = sr.position",
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
            "synced_at": iso(at),
            "receipt_current": bool(cur),
            "position": int(pos),  # the event that recorded it
        }
        for et, k, d, at, cur, pos in rows[:limit]
    ]
    nxt = encode_cursor(list(rows[limit - 1][:2])) if len(rows) > limit else None
    return Page(items, nxt)
