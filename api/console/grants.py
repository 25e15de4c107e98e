"""Who may reach a registration, from the console (rule 13): its holder and the grants;
support grants a second worker token access or takes a grant back (CSRF-checked, both
recorded as events with the support person's name, on the audit log). Auditors read it."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from api import grants
from api.console.actions import context, settle
from api.console.auth import console_page, services
from api.console.pages import load_registration, parse_rid
from api.console.web import PREFIX, redirect, render
from domain.errors import LedgerError

router = APIRouter()


def _page(
    request: Request,
    rid: UUID,
    *,
    error: str | None = None,
    token_name: str = "",
    reason: str = "",
    status_code: int = 200,
) -> Response:
    svc = services(request)
    access = svc.ledger.access(rid)
    workers = sorted(
        t.name
        for t in svc.tokens.list_tokens()
        if t.role == "worker"
        and t.revoked_at is None
        and t.name != access.holder
        and all(g.token_name != t.name for g in access.grants)
    )
    context_: dict[str, Any] = {
        "reg": load_registration(request, rid),
        "access": access,
        "workers": workers,
        "error": error,
        "token_name": token_name,
        "reason": reason,
    }
    return render(request, "grants.html", context_, status_code=status_code)


def _url(rid: UUID) -> str:
    return f"{PREFIX}/registrations/{rid}/access"


@router.get("/registrations/{rid}/access", response_class=HTMLResponse)
@console_page()
def access_page(request: Request, rid: str) -> Response:
    return _page(request, parse_rid(request, rid))


@router.post("/registrations/{rid}/access", response_class=HTMLResponse)
@console_page(write=True)
def grant_access(
    request: Request,
    rid: str,
    token_name: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    reg_id = parse_rid(request, rid)
    load_registration(request, reg_id)
    token_name, reason = token_name.strip(), reason.strip()
    if not token_name:
        return _page(
            request,
            reg_id,
            error="Name the worker token to grant.",
            reason=reason,
            status_code=422,
        )
    svc = services(request)
    try:
        done = grants.grant(
            svc.ledger, svc.tokens, context(request), reg_id, token_name, reason or None
        )
    except LedgerError as error:
        return _page(
            request,
            reg_id,
            error=error.message,
            token_name=token_name,
            reason=reason,
            status_code=422 if error.code == "validation_error" else 409,
        )
    settle(request, done.position)
    text = (
        f"{token_name} may now reach this registration."
        if done.changed
        else f"{token_name} could already reach this registration; nothing was recorded."
    )
    return redirect(_url(reg_id), flash=text, request=request)


@router.post("/registrations/{rid}/access/{token_name}/revoke", response_class=HTMLResponse)
@console_page(write=True)
def revoke_access(
    request: Request,
    rid: str,
    token_name: str,
    reason: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    reg_id = parse_rid(request, rid)
    load_registration(request, reg_id)
    svc = services(request)
    try:
        done = grants.revoke(
            svc.ledger, svc.tokens, context(request), reg_id, token_name, reason.strip() or None
        )
    except LedgerError as error:
        return _page(request, reg_id, error=error.message, status_code=404)
    settle(request, done.position)
    return redirect(
        _url(reg_id), flash=f"{token_name} no longer reaches this registration.", request=request
    )
