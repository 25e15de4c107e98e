"""The auditors' pages: the audit log filtered and paged, its CSV export, and verification.

The filters are those of GET /v1/audit (registration, actor, action, time); the export
streams every matching entry in position order with the same filters. Verification and the
event-log export are in log_pages.py.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from api.console.auth import console_page, services
from api.console.web import AUDIT_LABELS, pager, render, secure
from projections.reads.audit import AUDIT_TYPES, AuditFilter
from replay.csvcells import cell

router = APIRouter()
AUDIT_PER_PAGE = 50
EXPORT_PAGE = 1000
CSV_COLUMNS = [
    "position",
    "at",
    "type",
    "action",
    "registration_id",
    "registration",
    "session_id",
    "actor",
    "reason",
    "ticket",
    "override",
    "unsynced",
    "receipts_restored",
    "receipts_skipped",
    "undo_of",
    "undone_by",
    "correlation_id",
]


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _micros(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1_000_000)


def audit_filters(
    request: Request, registration: str, actor: str, action: str, since: str, until: str
) -> tuple[AuditFilter, dict[str, Any]]:
    """The filter from the form, and what the form shows back (with the registrations a
    text matched when it names more than one)."""
    read_models = services(request).read_models
    reg: dict[str, Any] | None = None
    matches: list[dict[str, Any]] = []
    registration = registration.strip()[:200]
    rid: str | None = None
    if registration:
        try:
            rid = str(UUID(registration))
        except ValueError:
            matches, count = read_models.search_registrations(q=registration, limit=20)
            if count == 1:
                rid = str(matches[0]["id"])
                matches = []
            elif count == 0:
                rid = "00000000-0000-0000-0000-000000000000"  # matches no entry
        if rid is not None:
            reg = read_models.get_registration(UUID(rid))
    first, last = _day(since), _day(until)
    filters = AuditFilter(
        registration_id=rid,
        actor=actor or None,
        type=action if action in AUDIT_TYPES else None,
        since=_micros(first) if first else None,
        until=_micros(last + timedelta(days=1)) if last else None,
    )
    shown = {
        "registration": registration,
        "reg": reg,
        "matches": matches,
        "actor": filters.actor or "",
        "action": filters.type or "",
        "since": first.isoformat() if first else "",
        "until": last.isoformat() if last else "",
    }
    return filters, shown


def _names(request: Request, entries: list[dict[str, Any]]) -> dict[str, dict[str, Any] | None]:
    read_models = services(request).read_models
    names: dict[str, dict[str, Any] | None] = {}
    for entry in entries:
        key = str(entry.get("registration_id") or "")
        if key and key not in names:
            try:
                names[key] = read_models.get_registration(UUID(key))
            except ValueError:
                names[key] = None
    return names


@router.get("/audit", response_class=HTMLResponse)
@console_page()
def audit(
    request: Request,
    registration: str = "",
    actor: str = "",
    action: str = "",
    since: str = "",
    until: str = "",
    page: str = "1",
) -> Response:
    read_models = services(request).read_models
    filters, shown = audit_filters(request, registration, actor, action, since, until)
    _, total = read_models.audit_page(filters, limit=1)
    pages = pager(page, AUDIT_PER_PAGE, total)
    entries, total = read_models.audit_page(filters, limit=AUDIT_PER_PAGE, offset=pages.offset)
    query = request.url.query
    return render(
        request,
        "audit.html",
        {
            "entries": entries,
            "names": _names(request, entries),
            "pager": pages,
            "actors": read_models.audit_actors(),
            "types": AUDIT_TYPES,
            "filtered": any([filters.registration_id, actor, action, since, until]),
            "export_query": query,
            **shown,
        },
    )


def _csv_rows(request: Request, filters: AuditFilter) -> Iterator[str]:
    read_models = services(request).read_models
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    names: dict[str, str] = {}
    cursor: str | None = None
    while True:
        page = read_models.audit(
            registration_id=None, after=None, limit=EXPORT_PAGE, cursor=cursor, filters=filters
        )
        for entry in page.items:
            rid = str(entry.get("registration_id") or "")
            if rid and rid not in names:
                reg = read_models.get_registration(UUID(rid))
                names[rid] = str(reg.get("name") or "") if reg else ""
            row = {
                **entry,
                "action": AUDIT_LABELS.get(str(entry["type"]), entry["type"]),
                "registration": names.get(rid, ""),
            }
            writer.writerow([cell(row.get(column)) for column in CSV_COLUMNS])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        cursor = page.next_cursor
        if not cursor:
            return


@router.get("/audit.csv")
@console_page()
def audit_export(
    request: Request,
    registration: str = "",
    actor: str = "",
    action: str = "",
    since: str = "",
    until: str = "",
    page: str = "",
) -> Response:
    """The filtered audit trail as CSV, every entry (not one page), oldest first."""
    filters, _ = audit_filters(request, registration, actor, action, since, until)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    response = StreamingResponse(_csv_rows(request, filters), media_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    return secure(response)
