"""The console's writes: delete sessions, undo a destructive action (sync requests are in
sync_requests.py).

Support only, CSRF-checked (see auth.console_page). Each write waits until the read models
reflect it before answering, so the page that follows shows the result.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from api.console.auth import Who, console_page, services
from api.console.pages import deletion_previews, load_registration, parse_rid
from api.console.web import PREFIX, fmt_short, plural, redirect, render
from domain.approvals import ApprovalPending
from domain.errors import LedgerError, ValidationFailed
from domain.values import Context

router = APIRouter()
WAIT_SECONDS = 5.0


def context(request: Request) -> Context:
    who: Who = request.state.console_principal
    correlation = getattr(request.state, "correlation_id", None) or request.headers.get(
        "x-correlation-id"
    )
    return Context(actor=who.name, correlation_id=str(correlation or uuid.uuid4()))


def settle(request: Request, position: int) -> bool:
    """Wait until the read models have processed `position` (read your own writes)."""
    if not position:
        return True
    return bool(services(request).read_models.wait_for(int(position), WAIT_SECONDS))


@router.post("/registrations/{rid}/delete", response_class=HTMLResponse)
@console_page(write=True)
def delete_sessions(
    request: Request,
    rid: str,
    sid: Annotated[list[str] | None, Form()] = None,
    reason: Annotated[str, Form()] = "",
    override: Annotated[str, Form()] = "",
    ticket: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    reg_id = parse_rid(request, rid)
    reg = load_registration(request, reg_id)
    previews = deletion_previews(request, reg_id, sid or [])
    deletable = [p for p in previews if not p["error"]]
    needs_override = any(not p["check"].safe for p in deletable)
    reason, ticket = reason.strip(), ticket.strip()
    wants_override = override in ("1", "on", "true", "yes")

    def again(error: str) -> Response:
        return render(
            request,
            "delete_confirm.html",
            {
                "reg": reg,
                "previews": previews,
                "needs_override": needs_override,
                "deletable": deletable,
                "error": error,
                "reason": reason,
                "ticket": ticket,
                "override_checked": wants_override,
            },
            status_code=422 if previews else 400,
        )

    if not deletable:
        return again("None of the selected sessions can be deleted; nothing was changed.")
    if not reason:
        return again("Give a reason: it is kept in the audit log with your name.")
    if needs_override and not wants_override:
        return again(
            "At least one selected session is not safe to delete. Tick “Override the "
            "deletion check” only on Support's explicit instruction, with its ticket."
        )
    if wants_override and needs_override and not ticket:
        return again("Overriding the deletion check needs the ticket of Support's instruction.")

    ctx = context(request)
    results: list[dict[str, Any]] = []
    last_position = 0
    for preview in deletable:
        session = preview["s"]
        sid_value = str(session["id"])
        try:
            done = services(request).ledger.delete_session(
                ctx,
                reg_id,
                sid_value,
                reason=reason,
                override=wants_override and needs_override,
                ticket=ticket or None,
            )
        except LedgerError as error:
            results.append({"s": session, "ok": False, "message": error.message})
            continue
        last_position = max(last_position, int(done.position))
        if isinstance(done, ApprovalPending):  # rule 17: waits for a second support token
            results.append({"s": session, "ok": False, "pending": done.approval_id})
            continue
        results.append(
            {"s": session, "ok": True, "unsynced": done.unsynced, "position": done.position}
        )
    settled = settle(request, last_position)
    return render(
        request,
        "delete_result.html",
        {
            "reg": reg,
            "results": results,
            "reason": reason,
            "ticket": ticket,
            "settled": settled,
            "skipped": [p for p in previews if p["error"]],
        },
        status_code=200
        if any(r["ok"] for r in results)
        else (202 if any(r.get("pending") for r in results) else 409),
    )


@router.post("/audit/{position}/undo")
@console_page(write=True)
def undo(
    request: Request,
    position: int,
    reason: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    target = safe_back(back, f"{PREFIX}/audit")
    reason = reason.strip()
    if not reason:
        return redirect(
            target,
            flash="An undo needs a reason (it is kept in the audit log); nothing was changed.",
            kind="error",
            request=request,
        )
    try:
        done = services(request).ledger.undo(context(request), position, reason=reason)
    except ValidationFailed:
        raise  # a position no page links to (say 2**70): the refusal page, 422
    except LedgerError as error:
        return redirect(
            target, flash=f"The undo was refused: {error.message}", kind="error", request=request
        )
    settle(request, done.position)
    return redirect(target, flash=undo_words(request, done), request=request)


def safe_back(back: str, default: str) -> str:
    """Only a console page of this site (never another host) to go back to."""
    if back.startswith(PREFIX + "/") and not back.startswith("//") and "\\" not in back:
        return back
    return default


def describe_session(request: Request, rid: UUID, sid: str | None) -> str:
    """'The time session started 2024-05-01 10:00 UTC on ACME-PC01', in words, not ids."""
    session = services(request).read_models.get_session(rid, sid) if sid else None
    if not session:
        return "The session"
    started = fmt_short(session.get("started_at"))
    worker = f" on {session['worker']}" if session.get("worker") else ""
    return f"The {session.get('sync_type')} session started {started} UTC{worker}"


def undo_words(request: Request, done: Any) -> str:
    rid = UUID(str(done.registration_id))
    reg = services(request).read_models.get_registration(rid) or {}
    name = reg.get("name") or "the registration"
    restored = None
    for candidate in (int(done.position), int(done.position) - 1):
        entry = services(request).read_models.audit_entry(candidate) or {}
        if entry.get("undo_of") is not None:
            restored = entry.get("receipts_restored")
            break
    receipts = f"; {plural(int(restored), 'receipt')} restored" if restored else ""
    session = describe_session(request, rid, done.session_id)
    return {
        "deletion": f"{session} of {name} is back in the history{receipts}.",
        "restoration": f"{session} of {name} is deleted again.",
        "reset": f"The reset of {name} is undone: its sessions are back in the history{receipts}.",
        "reset_undo": f"The reset of {name} is in force again.",
    }.get(done.kind, "Undone.")
