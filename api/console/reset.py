"""Reset a registration from the console ("remove the history of previous syncs", the red
checkbox of the Accountlink article): a dry-run preview of what it would remove, the file id
typed back as confirmation (rule 7), a reason, and an undo next to the result."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from api.console.actions import context, settle
from api.console.auth import console_page, services
from api.console.pages import load_registration, parse_rid
from api.console.web import PREFIX, redirect, render
from domain.approvals import ApprovalPending
from domain.errors import LedgerError

router = APIRouter()


def reset_preview(request: Request, rid: UUID) -> dict[str, Any]:
    """What a reset would do now, from the read models; records nothing."""
    read_models = services(request).read_models
    return {
        "receipts": read_models.count_receipts(rid),
        "sessions": read_models.count_sessions(rid),
        "in_progress": read_models.count_sessions(rid, status="in_progress")
        + read_models.count_sessions(rid, status="stuck"),
    }


def _page(
    request: Request,
    reg: dict[str, Any],
    *,
    error: str | None = None,
    reason: str = "",
    typed: str = "",
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "reset_confirm.html",
        {
            "reg": reg,
            "preview": reset_preview(request, UUID(str(reg["id"]))),
            "error": error,
            "reason": reason,
            "typed": typed,
        },
        status_code=status_code,
    )


@router.get("/registrations/{rid}/reset", response_class=HTMLResponse)
@console_page(support_only=True)
def reset_confirmation(request: Request, rid: str) -> Response:
    reg_id = parse_rid(request, rid)
    return _page(request, load_registration(request, reg_id))


@router.post("/registrations/{rid}/reset", response_class=HTMLResponse)
@console_page(write=True)
def reset(
    request: Request,
    rid: str,
    reason: Annotated[str, Form()] = "",
    confirm_file_id: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    reg_id = parse_rid(request, rid)
    reg = load_registration(request, reg_id)
    reason = reason.strip()
    if not reason:
        return _page(
            request,
            reg,
            error="Give a reason: it is kept in the audit log with your name.",
            typed=confirm_file_id,
            status_code=422,
        )
    if confirm_file_id != reg["file_id"]:
        return _page(
            request,
            reg,
            error="The file id you typed does not match this registration's; nothing was "
            "changed. Type it exactly as shown.",
            reason=reason,
            typed=confirm_file_id,
            status_code=422,
        )
    ledger = services(request).ledger
    # The reset records how many receipts it unsyncs: count them on caught-up read models.
    settle(request, ledger.current_position())
    try:
        done = ledger.reset_registration(
            context(request), reg_id, reason=reason, confirm_file_id=confirm_file_id
        )
    except LedgerError as error:
        return _page(
            request, reg, error=error.message, reason=reason, typed=confirm_file_id, status_code=409
        )
    settled = settle(request, done.position)
    if isinstance(done, ApprovalPending):  # rule 17: the requester sees what waits
        return redirect(
            f"{PREFIX}/approvals/{done.approval_id}",
            flash="Reset requested: this registration requires four eyes, so nothing is "
            "removed until a different support token approves it.",
            kind="info",
            request=request,
        )
    entry = services(request).read_models.audit_entry(done.position - 1) if settled else None
    unsynced = (entry or {}).get("unsynced", done.receipts)
    return render(
        request,
        "reset_result.html",
        {
            "reg": load_registration(request, reg_id),
            "unsynced": unsynced or 0,
            "position": done.position,
            "reason": reason,
            "settled": settled,
        },
    )
