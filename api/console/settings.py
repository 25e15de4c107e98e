"""A registration's settings (rule 18): support changes them, auditors read them.

The form goes through the same Ledger command as PATCH /v1/registrations/{rid}
(`update_settings`): it validates, records one event for what differs and nothing when
nothing does. The console only turns form fields into values.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from api.console.actions import context, settle
from api.console.auth import console_page, services
from api.console.pages import load_registration, parse_rid
from api.console.web import PREFIX, redirect, render
from domain.errors import LedgerError

router = APIRouter()

LABELS = {
    "name": "name",
    "sync_interval_minutes": "sync interval",
    "stuck_after_minutes": "stuck after",
    "auto_remove_stuck_after_minutes": "automatic removal of stuck sessions",
    "approvals_required": "four-eyes approvals",
}


class FormError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _minutes(field: str, raw: str) -> int:
    text = raw.strip()
    if not text.isdigit():
        raise FormError(field, f"The {LABELS[field]} must be a whole number of minutes.")
    return int(text)


def wanted_from(
    name: str, interval: str, stuck: str, auto_remove: str, auto_minutes: str, approvals: str
) -> dict[str, Any]:
    """The settings the form asks for (all five: the Ledger records only what differs)."""
    on = ("1", "on", "true", "yes")
    return {
        "name": name.strip(),
        "sync_interval_minutes": _minutes("sync_interval_minutes", interval),
        "stuck_after_minutes": _minutes("stuck_after_minutes", stuck),
        "auto_remove_stuck_after_minutes": (
            _minutes("auto_remove_stuck_after_minutes", auto_minutes) if auto_remove in on else None
        ),
        "approvals_required": approvals in on,
    }


def describe_change(field: str, value: Any) -> str:
    if field == "approvals_required":
        return f"four-eyes approvals {'required' if value else 'no longer required'}"
    if field == "auto_remove_stuck_after_minutes":
        return (
            f"stuck sessions removed automatically after {value} min"
            if value is not None
            else "automatic removal of stuck sessions turned off"
        )
    if field == "name":
        return f"name “{value}”"
    return f"{LABELS[field]} {value} min"


def _page(
    request: Request,
    reg: dict[str, Any],
    *,
    form: dict[str, Any] | None = None,
    error: FormError | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "registration_settings.html",
        {"reg": reg, "form": form or reg, "error": error},
        status_code=status_code,
    )


@router.get("/registrations/{rid}/settings", response_class=HTMLResponse)
@console_page()
def settings_page(request: Request, rid: str) -> Response:
    return _page(request, load_registration(request, parse_rid(request, rid)))


@router.post("/registrations/{rid}/settings", response_class=HTMLResponse)
@console_page(write=True)
def save_settings(
    request: Request,
    rid: str,
    name: Annotated[str, Form()] = "",
    sync_interval_minutes: Annotated[str, Form()] = "",
    stuck_after_minutes: Annotated[str, Form()] = "",
    auto_remove: Annotated[str, Form()] = "",
    auto_remove_stuck_after_minutes: Annotated[str, Form()] = "",
    approvals_required: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    reg_id: UUID = parse_rid(request, rid)
    reg = load_registration(request, reg_id)
    shown = {
        **reg,
        "name": name,
        "sync_interval_minutes": sync_interval_minutes,
        "stuck_after_minutes": stuck_after_minutes,
        "auto_remove_stuck_after_minutes": auto_remove_stuck_after_minutes or None,
        "auto_remove_on": auto_remove in ("1", "on"),
        "approvals_required": approvals_required in ("1", "on"),
    }
    try:
        wanted = wanted_from(
            name,
            sync_interval_minutes,
            stuck_after_minutes,
            auto_remove,
            auto_remove_stuck_after_minutes,
            approvals_required,
        )
        done = services(request).ledger.update_settings(context(request), reg_id, wanted)
    except FormError as error:
        return _page(request, reg, form=shown, error=error, status_code=422)
    except LedgerError as error:
        field = str(error.details.get("field") or "")
        return _page(
            request, reg, form=shown, error=FormError(field, error.message), status_code=422
        )
    settle(request, done.position)
    target = f"{PREFIX}/registrations/{reg_id}/settings"
    if not done.changed:
        return redirect(target, flash="Nothing changed.", kind="info", request=request)
    words = "; ".join(describe_change(k, v) for k, v in done.changed.items())
    return redirect(target, flash=f"Saved: {words}.", request=request)
