"""The console's read-only pages: registrations, session history, session detail, audit,
worker status, and the deletion dry run (which records nothing)."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.console.auth import Bail, console_page, refusal, services
from api.console.chart import trend
from api.console.web import PREFIX, STATIC_DIR, pager, render, secure
from domain.errors import LedgerError

router = APIRouter()

SESSIONS_PER_PAGE = 50
RECORDS_PER_PAGE = 100
PREVIEW_RECORDS = 100
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


def parse_id(request: Request, value: str, what: str) -> UUID:
    """An id from the URL, or the console's 404 page naming what it is not."""
    try:
        return UUID(value)
    except ValueError:
        raise Bail(refusal(request, "Not found", f"{value!r} is not {what} id.", 404)) from None


def parse_rid(request: Request, rid: str) -> UUID:
    return parse_id(request, rid, "a registration")


def load_registration(request: Request, rid: UUID) -> dict[str, Any]:
    reg = services(request).read_models.get_registration(rid)
    if reg is None:
        raise Bail(refusal(request, "Not found", f"No registration with id {rid}.", 404))
    return dict(reg)


def load_session(request: Request, rid: UUID, sid: str) -> dict[str, Any]:
    session = services(request).read_models.get_session(rid, sid)
    if session is None:
        raise Bail(refusal(request, "Not found", f"No session {sid} in registration {rid}.", 404))
    return dict(session)


@router.get("/static/{name}", include_in_schema=False)
def static(name: str) -> Response:
    path = STATIC_DIR / name
    media = STATIC_TYPES.get(path.suffix)
    if media is None or "/" in name or not path.is_file():
        return Response("not found", status_code=404, media_type="text/plain")
    response = Response(path.read_bytes(), media_type=media)
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


REGISTRATIONS_PER_PAGE = 50
REGISTRATION_SORTS = {"last_updated", "name", "created"}
REGISTRATION_STATUSES = {"stuck", "failed", "in_progress"}
SESSION_STATUSES = {"in_progress", "stuck", "completed", "failed", "deleted"}


def _choice(value: str | None, allowed: set[str]) -> str | None:
    return value if value in allowed else None


@router.get("/registrations", response_class=HTMLResponse)
@console_page()
def registrations(
    request: Request,
    sort: str = "last_updated",
    order: str = "desc",
    product: str = "",
    q: str = "",
    status: str = "",
    page: str = "1",
) -> Response:
    """Find a registration: text in product / file id / name, stuck or failed, page numbers
    (the same filters as GET /v1/registrations?q=&status=)."""
    read_models = services(request).read_models
    sort = sort if sort in REGISTRATION_SORTS else "last_updated"
    order = "asc" if order == "asc" else "desc"
    q = q.strip()[:200]
    chosen = _choice(status, REGISTRATION_STATUSES)
    _, total = read_models.search_registrations(
        q=q or None, status=chosen, product=product or None, limit=1
    )
    pages = pager(page, REGISTRATIONS_PER_PAGE, total)
    items, total = read_models.search_registrations(
        q=q or None,
        status=chosen,
        product=product or None,
        sort=sort,
        descending=order == "desc",
        limit=REGISTRATIONS_PER_PAGE,
        offset=pages.offset,
    )
    _, stuck_total = read_models.search_registrations(status="stuck", limit=1)
    return render(
        request,
        "registrations.html",
        {
            "items": items,
            "sort": sort,
            "order": order,
            "product": product,
            "products": read_models.registration_products(),
            "q": q,
            "status": chosen or "",
            "pager": pages,
            "stuck_total": stuck_total,
        },
    )


TREND_SESSIONS = 30


def worker_panel(request: Request, reg: dict[str, Any]) -> dict[str, Any]:
    """What the worker panel needs besides the registration: the pending request of each
    kind (rule 14 keeps one), and whether Run/Full apply. They apply where this
    registration's agent has picked a sync request up (OneClick's SyncWorker does). An
    Accountlink connector syncs on its own and never looks, so its registrations get no
    OneClick buttons unless their agent has fulfilled a request after all; other products
    that never did get the buttons behind a note."""
    read_models = services(request).read_models
    rid = UUID(str(reg["id"]))
    pending = [
        dict(i)
        for i in read_models.sync_requests(rid, status="pending", limit=20, cursor=None).items
    ]
    used = bool(read_models.sync_requests(rid, status="fulfilled", limit=1, cursor=None).items)
    by_kind: dict[str, dict[str, Any]] = {}
    for item in reversed(pending):  # oldest first: the one rule 14 keeps
        by_kind.setdefault(str(item["kind"]), item)
    accountlink = str(reg.get("product") or "").lower().startswith("accountlink")
    return {
        "pending_requests": pending,
        "pending_by_kind": by_kind,
        "requests_used": used,
        "no_request_buttons": not used and accountlink,
    }


def _flag(value: str) -> bool | None:
    return {"1": True, "yes": True, "0": False, "no": False}.get(value)


@router.get("/registrations/{rid}", response_class=HTMLResponse)
@console_page()
def sessions(
    request: Request,
    rid: str,
    show_deleted: str = "",
    status: str = "",
    errors: str = "",
    page: str = "1",
) -> Response:
    """The session history, filtered by status (stuck among them) and paged by number, with
    the trend chart and, next to each stuck row, its deletion check and a Delete button."""
    reg_id = parse_rid(request, rid)
    reg = load_registration(request, reg_id)
    read_models = services(request).read_models
    chosen = _choice(status, SESSION_STATUSES)
    include_deleted = show_deleted in ("1", "on", "true", "yes")
    has_errors = _flag(errors)
    total = read_models.count_sessions(
        reg_id, include_deleted=include_deleted, status=chosen, has_errors=has_errors
    )
    pages = pager(page, SESSIONS_PER_PAGE, total)
    page_rows = read_models.list_sessions(
        reg_id,
        include_deleted=include_deleted,
        status=chosen,
        has_errors=has_errors,
        limit=SESSIONS_PER_PAGE,
        offset=pages.offset,
        cursor=None,
    )
    rows = [dict(i) for i in page_rows.items]
    # The dry-run verdict beside each stuck row (a stuck session is usually alone).
    checks = {
        str(row["id"]): (read_models.get_session(reg_id, str(row["id"])) or {}).get(
            "deletion_check"
        )
        for row in rows
        if row.get("stuck")
    }
    recent = read_models.list_sessions(
        reg_id, include_deleted=False, limit=TREND_SESSIONS, cursor=None
    )
    counts = {name: read_models.count_sessions(reg_id, status=name) for name in ("stuck", "failed")}
    return render(
        request,
        "sessions.html",
        {
            "reg": reg,
            "rows": rows,
            "checks": checks,
            "show_deleted": include_deleted,
            "status": chosen or "",
            "errors": errors if has_errors is not None else "",
            "pager": pages,
            "counts": counts,
            "trend": trend([dict(i) for i in recent.items]) if recent.items else None,
            **worker_panel(request, reg),
        },
    )


ERRORS_PER_PAGE = 25


@router.get("/registrations/{rid}/sessions/{sid}", response_class=HTMLResponse)
@console_page()
def session_detail(
    request: Request, rid: str, sid: str, cursor: str | None = None, errors_page: str = "1"
) -> Response:
    """One session: facts, duration, records per entity type, errors (paged), records."""
    reg_id = parse_rid(request, rid)
    reg = load_registration(request, reg_id)
    session = load_session(request, reg_id, sid)
    read_models = services(request).read_models
    records = read_models.session_records(reg_id, sid, limit=RECORDS_PER_PAGE, cursor=cursor)
    error_pages = pager(errors_page, ERRORS_PER_PAGE, int(session.get("error_count") or 0))
    breakdown = read_models.session_breakdown(reg_id, sid)
    return render(
        request,
        "session.html",
        {
            "reg": reg,
            "s": session,
            "records": [dict(r) for r in records.items],
            "records_cursor": cursor,
            "records_next": records.next_cursor,
            "breakdown": breakdown,
            "breakdown_top": max((int(b["records"]) for b in breakdown), default=0),
            "errors": read_models.session_errors(
                reg_id, sid, limit=ERRORS_PER_PAGE, offset=error_pages.offset
            ),
            "error_pager": error_pages,
        },
    )


def deletion_previews(request: Request, rid: UUID, sids: list[str]) -> list[dict[str, Any]]:
    """A dry run for each selected session: what its deletion would unsync. Records nothing."""
    svc = services(request)
    previews: list[dict[str, Any]] = []
    seen: set[str] = set()
    for sid in sids:
        if sid in seen:
            continue
        seen.add(sid)
        session = load_session(request, rid, sid)
        entry: dict[str, Any] = {"s": session, "error": None}
        removed = session.get("deleted") or session.get("removed_by_reset")
        if removed:
            entry["error"] = "This session is already deleted; there is nothing to delete."
        else:
            try:
                preview = svc.ledger.preview_deletion(rid, sid)
            except LedgerError as error:
                entry["error"] = error.message
            else:
                records = list(preview.records)
                entry.update(
                    check=preview.check,
                    would_unsync=preview.would_unsync,
                    by_type=sorted(Counter(r[0] for r in records).items()),
                    records=records[:PREVIEW_RECORDS],
                )
        previews.append(entry)
    previews.sort(key=lambda e: -int(e["s"].get("seq") or 0))
    return previews


@router.get("/registrations/{rid}/delete", response_class=HTMLResponse)
@console_page(support_only=True)
def delete_confirmation(
    request: Request, rid: str, sid: Annotated[list[str] | None, Query()] = None
) -> Response:
    reg_id = parse_rid(request, rid)
    reg = load_registration(request, reg_id)
    if not sid:
        return render(
            request,
            "notice.html",
            {
                "title": "No session selected",
                "message": "Tick the box of the stuck session first, then press "
                "“Delete session(s) and unsync record(s)”.",
                "back": f"{PREFIX}/registrations/{reg_id}",
            },
            status_code=400,
        )
    previews = deletion_previews(request, reg_id, sid)
    return render(
        request,
        "delete_confirm.html",
        {
            "reg": reg,
            "previews": previews,
            "needs_override": any(
                p.get("check") is not None and not p["check"].safe for p in previews
            ),
            "deletable": [p for p in previews if not p["error"]],
            "error": None,
            "reason": "",
            "ticket": "",
        },
    )


@router.get("/registrations/{rid}/worker", response_class=HTMLResponse)
@console_page()
def worker_status(request: Request, rid: str) -> Response:
    reg_id = parse_rid(request, rid)
    reg = load_registration(request, reg_id)
    svc = services(request)
    recent = svc.read_models.list_sessions(reg_id, include_deleted=False, limit=15, cursor=None)
    syncs = []
    for item in recent.items:
        detail = (
            svc.read_models.get_session(reg_id, str(item["id"]))
            if item.get("error_count")
            else None
        )
        syncs.append({**dict(item), "errors": (detail or {}).get("errors", [])})
    requests_page = svc.read_models.sync_requests(reg_id, status=None, limit=20, cursor=None)
    return render(
        request,
        "worker.html",
        {
            "reg": reg,
            "syncs": syncs,
            "requests": [dict(i) for i in requests_page.items],
            **worker_panel(request, reg),
        },
    )


@router.get("/registrations/{rid}/full-sync", response_class=HTMLResponse)
@console_page(support_only=True)
def full_sync_confirmation(request: Request, rid: str, back: str = "") -> Response:
    reg_id = parse_rid(request, rid)
    reg = load_registration(request, reg_id)
    own = f"{PREFIX}/registrations/{reg_id}"
    back = back if back.startswith(own) else f"{own}/worker"
    return render(request, "full_sync_confirm.html", {"reg": reg, "back": back})


def not_found(request: Request) -> Response:
    return secure(refusal(request, "Not found", "There is no such console page.", 404))
