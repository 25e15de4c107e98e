"""The console's read-only pages: registrations, session history, session detail, audit,
worker status, and the deletion dry run (which records nothing)."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.console.auth import Bail, console_page, refusal, services
from api.console.web import PREFIX, STATIC_DIR, parse_time, render, secure
from domain.errors import LedgerError

router = APIRouter()

REGISTRATION_CAP = 5000
SESSIONS_PER_PAGE = 50
RECORDS_PER_PAGE = 100
AUDIT_PER_PAGE = 100
PREVIEW_RECORDS = 100
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
SORTS = {"last_updated", "name", "total_syncs", "stuck"}


def parse_rid(request: Request, rid: str) -> UUID:
    try:
        return UUID(rid)
    except ValueError:
        raise Bail(
            refusal(request, "Not found", f"{rid!r} is not a registration id.", 404)
        ) from None


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


def _all_registrations(request: Request, product: str | None) -> list[dict[str, Any]]:
    read_models = services(request).read_models
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while len(items) < REGISTRATION_CAP:
        page = read_models.list_registrations(
            product=product or None, file_id=None, limit=1000, cursor=cursor
        )
        items.extend(dict(item) for item in page.items)
        cursor = page.next_cursor
        if not cursor:
            break
    return items


def _sort_key(sort: str) -> Any:
    if sort == "name":
        return lambda r: (str(r.get("name") or "").lower(), str(r.get("file_id")))
    if sort == "total_syncs":
        return lambda r: int(r.get("total_syncs") or 0)
    if sort == "stuck":
        return lambda r: (
            int(r.get("stuck_sessions") or 0),
            int(r.get("sessions_in_progress") or 0),
        )
    return lambda r: parse_time(r.get("last_updated")) or parse_time(r.get("created_at")) or 0


@router.get("/registrations", response_class=HTMLResponse)
@console_page()
def registrations(
    request: Request,
    sort: str = "last_updated",
    order: str = "desc",
    product: str | None = None,
) -> Response:
    sort = sort if sort in SORTS else "last_updated"
    order = "asc" if order == "asc" else "desc"
    items = _all_registrations(request, product)
    try:
        items.sort(key=_sort_key(sort), reverse=order == "desc")
    except TypeError:
        pass
    products = sorted({str(r.get("product")) for r in items})
    return render(
        request,
        "registrations.html",
        {
            "items": items,
            "sort": sort,
            "order": order,
            "product": product or "",
            "products": products,
            "capped": len(items) >= REGISTRATION_CAP,
            "stuck_total": sum(int(r.get("stuck_sessions") or 0) for r in items),
        },
    )


def _worker_panel(request: Request, rid: UUID) -> dict[str, Any]:
    page = services(request).read_models.sync_requests(rid, status="pending", limit=20, cursor=None)
    return {"pending_requests": [dict(i) for i in page.items]}


@router.get("/registrations/{rid}", response_class=HTMLResponse)
@console_page()
def sessions(
    request: Request,
    rid: str,
    show_deleted: bool = False,
    cursor: str | None = None,
) -> Response:
    reg_id = parse_rid(request, rid)
    reg = load_registration(request, reg_id)
    page = services(request).read_models.list_sessions(
        reg_id, include_deleted=show_deleted, limit=SESSIONS_PER_PAGE, cursor=cursor
    )
    rows = [dict(i) for i in page.items]
    return render(
        request,
        "sessions.html",
        {
            "reg": reg,
            "rows": rows,
            "show_deleted": show_deleted,
            "cursor": cursor,
            "next_cursor": page.next_cursor,
            **_worker_panel(request, reg_id),
        },
    )


@router.get("/registrations/{rid}/sessions/{sid}", response_class=HTMLResponse)
@console_page()
def session_detail(request: Request, rid: str, sid: str, cursor: str | None = None) -> Response:
    reg_id = parse_rid(request, rid)
    reg = load_registration(request, reg_id)
    session = load_session(request, reg_id, sid)
    records = services(request).read_models.session_records(
        reg_id, sid, limit=RECORDS_PER_PAGE, cursor=cursor
    )
    return render(
        request,
        "session.html",
        {
            "reg": reg,
            "s": session,
            "records": [dict(r) for r in records.items],
            "records_cursor": cursor,
            "records_next": records.next_cursor,
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
            "pending_requests": [
                dict(i) for i in requests_page.items if i.get("status") == "pending"
            ],
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


AUDIT_CAP = 2000


@router.get("/audit", response_class=HTMLResponse)
@console_page()
def audit(request: Request, registration: str | None = None) -> Response:
    read_models = services(request).read_models
    reg_id = parse_rid(request, registration) if registration else None
    entries: list[dict[str, Any]] = []
    cursor: str | None = None
    while len(entries) < AUDIT_CAP:
        page = read_models.audit(
            registration_id=reg_id, after=None, limit=AUDIT_PER_PAGE, cursor=cursor
        )
        entries.extend(dict(e) for e in page.items)
        cursor = page.next_cursor
        if not cursor:
            break
    entries.sort(key=lambda e: -int(e.get("position") or 0))
    names: dict[str, dict[str, Any] | None] = {}
    for entry in entries:
        key = str(entry.get("registration_id") or "")
        if key and key not in names:
            try:
                names[key] = read_models.get_registration(UUID(key))
            except ValueError:
                names[key] = None
    return render(
        request,
        "audit.html",
        {
            "entries": entries,
            "names": names,
            "registration": reg_id,
            "reg": names.get(str(reg_id)) if reg_id else None,
            "capped": len(entries) >= AUDIT_CAP,
        },
    )


def not_found(request: Request) -> Response:
    return secure(refusal(request, "Not found", "There is no such console page.", 404))
