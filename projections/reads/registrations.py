"""Registration reads: the list (with counts), one registration with its worker status."""

from __future__ import annotations

from typing import Any

import orjson

from domain.liveness import is_stuck
from projections.fmt import clamp, decode_cursor, encode_cursor, iso, now_micros, storable
from projections.interface import Page, Row, Scope
from projections.reads.sessions import NOT_REMOVED, stuck_sql
from projections.store import Tx

REG_COLS = "id, product, file_id, name, sync_interval_minutes, stuck_after_minutes, created_at"


def _last_updated(tx: Tx) -> str:
    greatest = "GREATEST" if tx.pg else "MAX"
    return (
        f"{greatest}(r.last_event_at, COALESCE((SELECT MAX(s.last_activity_at) "
        "FROM view_sessions s WHERE s.registration_id = r.id), 0))"
    )


# A list item's counts and settings, as columns of one statement over a page `p` of
# registrations (id, stuck_after_minutes, ...): one query per page, not three per item
# (issue 16). Takes `now` (µs) for the stuck count (rule 15: `stuck_sql`).
_OF_P = f"FROM view_sessions s WHERE s.registration_id = p.id AND {NOT_REMOVED}"
ITEM_COLS = (
    f"(SELECT COUNT(*) {_OF_P}), "
    f"(SELECT COUNT(*) {_OF_P} AND s.status = 'in_progress'), "
    "(SELECT COUNT(*) FROM view_sessions s WHERE s.registration_id = p.id "
    f"AND {stuck_sql()}), "
    # Receipts: the count the view keeps, not a walk of every record of the registration.
    "COALESCE((SELECT rr.receipts FROM view_receipt_registrations rr "
    "WHERE rr.registration_id = p.id), 0), "
    "(SELECT g.auto_remove_stuck_after_minutes FROM view_registration_settings g "
    "WHERE g.id = p.id), "
    "(SELECT g.approvals_required FROM view_registration_settings g WHERE g.id = p.id)"
)
_WIDTH = len(REG_COLS.split(", ")) + 1  # the registration's columns and last_updated


def _with_items(page_sql: str, order: str) -> str:
    """`page_sql` (a page of REG_COLS + lu, already limited) with each row's ITEM_COLS,
    computed for the page's rows only, in `order` (over alias p)."""
    return f"SELECT p.*, {ITEM_COLS} FROM ({page_sql}) p ORDER BY {order}"


def _item(row: tuple[Any, ...]) -> Row:
    rid, product, file_id, name, interval, stuck_minutes, created, lu = row[:_WIDTH]
    total, running, stuck, receipts, auto_remove, approvals = row[_WIDTH : _WIDTH + 6]
    return {
        "id": rid,
        "product": product,
        "file_id": file_id,
        "name": name,
        "total_syncs": int(total),
        "last_updated": iso(lu),
        "sessions_in_progress": int(running),
        "stuck_sessions": int(stuck),
        "receipts": int(receipts or 0),
        "sync_interval_minutes": interval,
        "stuck_after_minutes": stuck_minutes,
        "created_at": iso(created),
        # Rules 16 and 17: off unless support turned them on (rule 18).
        "auto_remove_stuck_after_minutes": None if auto_remove is None else int(auto_remove),
        "approvals_required": bool(approvals),
    }


# Registration filters (`status`): which registrations need a look.
REG_STATUS_FILTERS = ("stuck", "failed", "in_progress")
# The most recent ended (completed or failed), non-removed session of its sync type: "the
# last sync of that type", which a stuck or running session behind it does not hide.
_LATEST_ENDED_OF_TYPE = (
    "s.seq = (SELECT MAX(m.seq) FROM view_sessions m WHERE m.registration_id = s.registration_id "
    "AND m.sync_type = s.sync_type AND m.status <> 'in_progress' AND m.is_deleted = 0 "
    "AND m.seq > COALESCE((SELECT MAX(x.cutoff) FROM view_session_resets x "
    "WHERE x.registration_id = m.registration_id AND x.active = 1), 0))"
)


def like_pattern(text: str) -> str:
    """A case-insensitive substring pattern for LIKE ... ESCAPE '!' (both backends)."""
    escaped = text.lower().replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f"%{escaped}%"


def registration_filter(
    *,
    product: str | None = None,
    file_id: str | None = None,
    q: str | None = None,
    status: str | None = None,
    now: int = 0,
    scope: Scope | None = None,
) -> tuple[list[str], list[Any]]:
    """WHERE fragments over view_registrations r: exact product/file id, text search `q` in
    product, file id and name, and `status`: has a stuck session, has a sync type whose last
    ended session failed, has a session in progress."""
    where: list[str] = []
    params: list[Any] = []
    if not all(storable(text) for text in (product, file_id, q) if text):
        where.append("1 = 0")
        product = file_id = q = None
    if product is not None:
        where.append("r.product = ?")
        params.append(product)
    if file_id is not None:
        where.append("r.file_id = ?")
        params.append(file_id)
    if scope is not None:
        # A worker's own registrations (rule 13): the scope's subquery, which the database
        # joins by its index. Fetching the held ids first and sending them back as one
        # array cost a worker holding 3,000 registrations a query, 3,000 rows and a
        # 100 KB parameter per page (issue 16: 1.8x support's list on PostgreSQL).
        where.append(f"r.id IN ({scope.subquery})")
        params += scope.params
    if q:
        pattern = like_pattern(q)
        where.append(
            "(LOWER(r.product) LIKE ? ESCAPE '!' OR LOWER(r.file_id) LIKE ? ESCAPE '!' "
            "OR LOWER(COALESCE(r.name, '')) LIKE ? ESCAPE '!')"
        )
        params += [pattern, pattern, pattern]
    sessions = "SELECT 1 FROM view_sessions s WHERE s.registration_id = r.id AND "
    if status == "stuck":
        where.append(f"EXISTS ({sessions}{stuck_sql()})")
        params.append(now)
    elif status == "failed":
        where.append(
            f"EXISTS ({sessions}s.status = 'failed' AND {NOT_REMOVED} AND {_LATEST_ENDED_OF_TYPE})"
        )
    elif status == "in_progress":
        where.append(f"EXISTS ({sessions}s.status = 'in_progress' AND {NOT_REMOVED})")
    elif status is not None:
        raise ValueError(f"unknown registration status {status!r}")
    return where, params


SORT_COLUMNS = {
    "last_updated": "x.lu",
    "name": "LOWER(COALESCE(x.name, ''))",
    "created": "x.created_at",
}


def search_registrations(
    tx: Tx,
    *,
    q: str | None,
    status: str | None,
    product: str | None,
    sort: str,
    descending: bool,
    limit: int,
    offset: int,
) -> tuple[list[Row], int]:
    """One page of registrations for page numbers (the console), and how many match."""
    now = now_micros()
    where, params = registration_filter(product=product, q=q, status=status, now=now)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    total = tx.one(f"SELECT COUNT(*) FROM view_registrations r {clause}", params)
    column = SORT_COLUMNS.get(sort, "x.lu")
    direction = "DESC" if descending else "ASC"
    page = (
        f"SELECT * FROM (SELECT {', '.join('r.' + c for c in REG_COLS.split(', '))}, "
        f"{_last_updated(tx)} AS lu FROM view_registrations r {clause}) x "
        f"ORDER BY {column} {direction}, x.id LIMIT ? OFFSET ?"
    )
    order = f"{column.replace('x.', 'p.')} {direction}, p.id"
    rows = tx.q(_with_items(page, order), (now, *params, clamp(limit), max(0, int(offset))))
    return [_item(r) for r in rows], int(total[0]) if total else 0


def registration_products(tx: Tx) -> list[str]:
    return [str(p) for (p,) in tx.q("SELECT DISTINCT product FROM view_registrations ORDER BY 1")]


def list_registrations(
    tx: Tx,
    *,
    product: str | None,
    file_id: str | None,
    limit: int,
    cursor: str | None,
    q: str | None = None,
    status: str | None = None,
    scope: Scope | None = None,
    now: int | None = None,
) -> Page:
    limit = clamp(limit)
    after = decode_cursor(cursor, int, str)
    now = now_micros() if now is None else now
    inner, params = registration_filter(
        product=product, file_id=file_id, q=q, status=status, now=now, scope=scope
    )
    where_inner = f"WHERE {' AND '.join(inner)}" if inner else ""
    outer = ""
    if after is not None:
        outer = "WHERE x.lu < ? OR (x.lu = ? AND x.id > ?)"
        params += [int(after[0]), int(after[0]), str(after[1])]
    page = (
        f"SELECT * FROM (SELECT {', '.join('r.' + c for c in REG_COLS.split(', '))}, "
        f"{_last_updated(tx)} AS lu FROM view_registrations r {where_inner}) x {outer} "
        "ORDER BY x.lu DESC, x.id LIMIT ?"
    )
    rows = tx.q(_with_items(page, "p.lu DESC, p.id"), (now, *params, limit + 1))
    items = [_item(r) for r in rows[:limit]]
    nxt = encode_cursor([rows[limit - 1][7], rows[limit - 1][0]]) if len(rows) > limit else None
    return Page(items, nxt)


def has_registration(tx: Tx, rid: str) -> bool:
    return tx.one("SELECT 1 FROM view_registrations WHERE id = ?", (rid,)) is not None


# The start of the registration's newest periodic session still in its history (rule 10:
# the next scheduled sync counts from it).
LAST_PERIODIC = (
    "(SELECT MAX(s.started_at) FROM view_sessions s WHERE s.registration_id = p.id "
    f"AND s.sync_type = 'periodic' AND {NOT_REMOVED})"
)


# The registration's sessions in progress and not removed (rule 10's worker status), as one
# JSON column of its read; the seq last, to order them newest first.
_LIVE_COLS = "s.worker, s.started_at, s.session_id, s.last_activity_at, s.seq"
_LIVE_OF_P = (
    "FROM view_sessions s WHERE s.registration_id = p.id AND s.status = 'in_progress' "
    f"AND {NOT_REMOVED}"
)


def get_registration(tx: Tx, rid: str, now: int | None = None) -> Row | None:
    """The item, with its worker status: one statement (the registration, its counts and
    its sessions in progress), so it needs no transaction - on PostgreSQL one round trip,
    not BEGIN, two queries and COMMIT (issue 16)."""
    now = now_micros() if now is None else now
    page = (
        f"SELECT {', '.join('r.' + c for c in REG_COLS.split(', '))}, {_last_updated(tx)} "
        "AS lu FROM view_registrations r WHERE r.id = ?"
    )
    row = tx.one(
        f"SELECT p.*, {ITEM_COLS}, {LAST_PERIODIC}, {tx.json_rows(_LIVE_COLS, _LIVE_OF_P)} "
        f"FROM ({page}) p",
        (now, rid),
    )
    if row is None:
        return None
    item = _item(row)
    last_periodic = row[-2]
    live = [tuple(r[:4]) for r in sorted(orjson.loads(row[-1]), key=lambda r: -int(r[4]))]
    item["status"] = worker_status(live, int(row[4]), int(row[6]), int(row[5]), now, last_periodic)
    return item


def worker_status(
    live: list[tuple[Any, ...]],
    interval: int,
    created: int,
    stuck_minutes: int,
    now: int,
    last_periodic: int | None,
) -> Row:
    """Rule 10: in progress (which worker, since when), stuck (which worker, no activity
    since when: never reported as in progress), or the next scheduled sync. `live`: the
    sessions in progress and not removed, newest first (worker, started_at, session_id,
    last_activity_at)."""
    stuck = [
        r
        for r in live
        if is_stuck(
            status="in_progress",
            removed=False,
            last_activity_at=int(r[3]),
            stuck_after_minutes=stuck_minutes,
            now=now,
        )
    ]
    running = next((r[:3] for r in live if r not in stuck), None)
    base = last_periodic if last_periodic is not None else created
    next_sync = iso(int(base) + interval * 60_000_000) or ""
    if running is not None:
        worker, since, sid = running
        return {
            "state": "in_progress",
            "message": "Synchronisation is currently in progress"
            + (f" on {worker}" if worker else ""),
            "worker": worker,
            "since": iso(since),
            "session_id": sid,
            "next_scheduled_sync": next_sync,
        }
    if stuck:
        worker, _started, sid, last = stuck[0]
        since = iso(last) or ""
        return {
            "state": "stuck",
            "message": "Synchronisation is stuck"
            + (f" on {worker}" if worker else "")
            + f": no activity since {since[:16].replace('T', ' ')} UTC "
            f"(more than {stuck_minutes} minutes)",
            "worker": worker,
            "since": since,
            "session_id": sid,
            "next_scheduled_sync": next_sync,
        }
    return {
        "state": "idle",
        "message": f"Next scheduled sync at {next_sync[:16].replace('T', ' ')} UTC",
        "worker": None,
        "since": None,
        "next_scheduled_sync": next_sync,
    }
