"""Rendering plumbing shared by the console pages: templates, filters, flash, headers."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from domain.policy import CHECK_WORDING

API_DIR = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = API_DIR / "templates"
STATIC_DIR = API_DIR / "static"
PREFIX = "/console"
FLASH_COOKIE = "syncledger_console_flash"

# Everything the console loads comes from this machine; nothing inline, nothing framed.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

STATUS_LABELS = {
    "in_progress": "In progress",
    "completed": "Completed",
    "failed": "Failed",
    "deleted": "Deleted",
}

AUDIT_LABELS = {
    "session_deleted": "Session deleted",
    "registration_reset": "Registration reset",
    "deletion_undone": "Deletion undone",
    "reset_undone": "Reset undone",
    "approval_requested": "Approval requested",
    "approval_approved": "Approved (carried out)",
    "approval_rejected": "Approval rejected",
    "approval_expired": "Approval expired",
    "access_granted": "Access granted",
    "access_revoked": "Access revoked",
}


def parse_time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def fmt_time(value: Any) -> str:
    moment = parse_time(value)
    if moment is None:
        return "—" if value in (None, "") else str(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def fmt_short(value: Any) -> str:
    moment = parse_time(value)
    if moment is None:
        return "—" if value in (None, "") else str(value)
    return moment.strftime("%Y-%m-%d %H:%M")


def fmt_ago(value: Any) -> str:
    moment = parse_time(value)
    if moment is None:
        return ""
    seconds = (datetime.now(UTC) - moment).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 60:
        text = "less than a minute"
    elif seconds < 3600:
        text = f"{int(seconds // 60)} min"
    elif seconds < 86400 * 2:
        text = f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"
    else:
        text = f"{int(seconds // 86400)} days"
    return f"in {text}" if future else f"{text} ago"


def plural(n: int, singular: str, many: str | None = None) -> str:
    return f"{n:,} {singular if n == 1 else (many or singular + 's')}"


def fmt_when(value: Any, short: bool = False) -> Markup:
    """A UTC time as <time>; console.js adds the reader's local time beside it."""
    moment = parse_time(value)
    if moment is None:
        return Markup("—") if value in (None, "") else Markup.escape(str(value))
    text = fmt_short(moment) + " UTC" if short else fmt_time(moment)
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return Markup('<time datetime="{}" data-local>{}</time>').format(stamp, text)


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"


def duration_of(session: Mapping[str, Any], now: datetime | None = None) -> float | None:
    """How long a session ran (to its end, or until now while in progress)."""
    start = parse_time(session.get("started_at"))
    if start is None:
        return None
    end = parse_time(session.get("ended_at")) or now or datetime.now(UTC)
    return (end - start).total_seconds()


@dataclass(frozen=True)
class Pager:
    """Page numbers over a counted list: "41–60 of 312", with the links to show."""

    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def first_item(self) -> int:
        return min(self.total, self.offset + 1)

    @property
    def last_item(self) -> int:
        return min(self.total, self.offset + self.per_page)

    def numbers(self) -> list[int | None]:
        """Page numbers to link, None where a run is left out (1 … 4 5 6 … 20)."""
        keep = {1, self.pages, self.page - 1, self.page, self.page + 1}
        out: list[int | None] = []
        for n in range(1, self.pages + 1):
            if n in keep:
                out.append(n)
            elif out and out[-1] is not None:
                out.append(None)
        return out


def pager(raw_page: Any, per_page: int, total: int) -> Pager:
    try:
        page = int(str(raw_page or "1"))
    except ValueError:
        page = 1
    last = max(1, -(-total // per_page))
    return Pager(max(1, min(page, last)), per_page, total)


def page_url(request: Request, **changes: Any) -> str:
    """This page's URL with some query parameters changed (None removes one)."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in changes]
    params += [(k, str(v)) for k, v in changes.items() if v not in (None, "")]
    query = urlencode(params)
    return request.url.path + (f"?{query}" if query else "")


templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.filters["time"] = fmt_time
templates.env.filters["ago"] = fmt_ago
templates.env.filters["short"] = fmt_short
templates.env.filters["when"] = fmt_when
templates.env.filters["duration"] = fmt_duration
templates.env.globals["duration_of"] = duration_of
templates.env.globals["page_url"] = page_url
templates.env.globals["plural"] = plural
templates.env.globals["STATUS_LABELS"] = STATUS_LABELS
templates.env.globals["AUDIT_LABELS"] = AUDIT_LABELS
templates.env.globals["CHECK_WORDING"] = CHECK_WORDING
templates.env.globals["PREFIX"] = PREFIX


def secure(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def wants_fragment(request: Request) -> bool:
    """The confirmation dialog's script asks for the form alone, to show it in a modal."""
    return request.headers.get("X-Console-Dialog") == "1"


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    ctx: dict[str, Any] = {
        "request": request,
        "principal": getattr(request.state, "console_principal", None),
        "csrf": getattr(request.state, "console_csrf", ""),
        "flash": None,
        "fragment": wants_fragment(request),
    }
    flash = request.cookies.get(FLASH_COOKIE)
    if flash:
        ctx["flash"] = _decode_flash(flash)
    ctx.update(context or {})
    response = templates.TemplateResponse(request, template, ctx, status_code=status_code)
    if flash:
        response.delete_cookie(FLASH_COOKIE, path=PREFIX)
    secure(response)
    return response


def redirect(
    url: str, *, flash: str | None = None, kind: str = "ok", request: Request | None = None
) -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    if flash:
        payload = base64.urlsafe_b64encode(
            json.dumps({"kind": kind, "text": flash}).encode()
        ).decode()
        response.set_cookie(
            FLASH_COOKIE,
            payload,
            max_age=120,
            path=PREFIX,
            httponly=True,
            samesite="strict",
            secure=request is not None and request.url.scheme == "https",
        )
    secure(response)
    return response


def _decode_flash(raw: str) -> dict[str, str] | None:
    try:
        data = json.loads(base64.urlsafe_b64decode(raw.encode()))
    except (ValueError, TypeError):
        return None
    if not isinstance(data, dict):
        return None
    kind = data.get("kind") if data.get("kind") in ("ok", "error", "info") else "info"
    return {"kind": str(kind), "text": str(data.get("text", ""))[:2000]}
