"""Sync requests from the console (rules 9 and 14): ask for a Run or Full Synchronisation,
and cancel a pending one with a reason. Support only, CSRF-checked.

Rule 14 keeps at most one pending request per kind: asking again answers with the pending
one, and the message says so instead of claiming a second request.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from api.console.actions import context, settle
from api.console.auth import console_page, services
from api.console.pages import load_registration, parse_rid
from api.console.web import PREFIX, redirect
from domain.errors import LedgerError

router = APIRouter()
LABELS = {"periodic": "Run Synchronisation (changes only)", "full": "Full Synchronisation"}


def _target(request: Request, rid: str, back: str) -> tuple[UUID, str]:
    """The registration (404 page if unknown) and the page of it to go back to."""
    reg_id = parse_rid(request, rid)
    load_registration(request, reg_id)
    own = f"{PREFIX}/registrations/{reg_id}"
    return reg_id, back if back.startswith(own) else f"{own}/worker"


@router.post("/registrations/{rid}/sync-requests")
@console_page(write=True)
def request_sync(
    request: Request,
    rid: str,
    kind: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    reg_id, target = _target(request, rid, back)
    confirmed = confirm in ("1", "on", "true", "yes")
    if kind == "full" and not confirmed:
        return redirect(f"{PREFIX}/registrations/{reg_id}/full-sync")
    try:
        done = services(request).ledger.request_sync(
            context(request), reg_id, kind=kind, confirm=confirmed
        )
    except LedgerError as error:
        return redirect(target, flash=error.message, kind="error", request=request)
    settle(request, done.position)
    label = LABELS.get(kind, kind)
    if not done.created:
        return redirect(
            target,
            flash=f"A {label} is already pending; it stays the one request of its kind and "
            "the worker will pick it up on its next poll.",
            kind="info",
            request=request,
        )
    return redirect(
        target,
        flash=f"{label} requested; the worker will pick it up on its next poll.",
        request=request,
    )


@router.post("/registrations/{rid}/sync-requests/{request_id}/cancel")
@console_page(write=True)
def cancel_request(
    request: Request,
    rid: str,
    request_id: str,
    reason: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    reg_id, target = _target(request, rid, back)
    reason = reason.strip()
    if not reason:
        return redirect(
            target,
            flash="A cancellation needs a reason (it is kept with the request); nothing was "
            "changed.",
            kind="error",
            request=request,
        )
    try:
        done = services(request).ledger.cancel_sync_request(
            context(request), reg_id, request_id, reason=reason
        )
    except LedgerError as error:
        return redirect(
            target, flash=f"Nothing was cancelled: {error.message}", kind="error", request=request
        )
    settle(request, done.position)
    return redirect(
        target,
        flash=f"The pending {LABELS.get(done.kind, 'sync request')} is cancelled; the worker "
        "will not run it.",
        request=request,
    )
