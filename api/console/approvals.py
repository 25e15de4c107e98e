"""Four-eyes in the console (rule 17): the pending approvals, one approval, approve, reject.

Where a registration has `approvals_required`, an override deletion or a reset made in the
console becomes a pending approval (actions.py, reset.py send the requester here). A
*different* support token approves it (the Ledger carries the action out, both names on the
events) or rejects it; the requester's own attempt is refused by the Ledger (own_approval)
and shown as such. Auditors read these pages and change nothing.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from api.console.actions import context, describe_session, safe_back, settle
from api.console.auth import Bail, console_page, refusal, services
from api.console.pages import deletion_previews, parse_id
from api.console.reset import reset_preview
from api.console.web import PREFIX, plural, redirect, render, templates
from domain.errors import LedgerError, OwnApproval

router = APIRouter()
STATUSES = ("pending", "approved", "rejected", "expired")
PER_PAGE = 25


def pending_for(request: Request, rid: UUID | None = None) -> list[dict[str, Any]]:
    """Pending approvals (of one registration, or all), newest first."""
    page = services(request).read_models.list_approvals(status="pending", limit=200, cursor=None)
    rows = [dict(r) for r in page.items]
    return [r for r in rows if rid is None or r["registration_id"] == str(rid)]


def pending_count(request: Request) -> int:
    """For the header's Approvals link: how many wait for a decision."""
    return len(pending_for(request))


def waiting_here(request: Request, rid: Any) -> list[dict[str, Any]]:
    """For the registration's header: its pending approvals, in words."""
    return [described(request, row, preview=False) for row in pending_for(request, UUID(str(rid)))]


templates.env.globals["pending_approvals"] = pending_count
templates.env.globals["approvals_waiting"] = waiting_here


def described(request: Request, row: dict[str, Any], *, preview: bool) -> dict[str, Any]:
    """An approval with its registration, its session in words and, while pending, what
    the action would do now (the same dry runs as the deletion and reset pages)."""
    rid = UUID(str(row["registration_id"]))
    reg = services(request).read_models.get_registration(rid) or {"id": str(rid), "name": "?"}
    item: dict[str, Any] = {**row, "reg": reg, "what": what(request, row, reg)}
    if preview and row["status"] == "pending":
        if row["action"] == "delete" and row["session_id"]:
            item["preview"] = deletion_previews(request, rid, [str(row["session_id"])])[0]
        elif row["action"] == "reset":
            item["reset"] = reset_preview(request, rid)
    return item


def what(request: Request, row: dict[str, Any], reg: dict[str, Any]) -> str:
    """'Delete the time session started … of Acme Ltd (override)' / 'Reset Acme Ltd'."""
    if row["action"] == "delete":
        rid = UUID(str(row["registration_id"]))
        session = describe_session(request, rid, row.get("session_id"))
        session = session[0].lower() + session[1:]
        return f"Delete {session} of {reg.get('name')}, overriding the deletion check"
    return f"Reset {reg.get('name')}: remove the history of every previous sync"


def load(request: Request, approval_id: str) -> dict[str, Any]:
    key = str(parse_id(request, approval_id, "an approval"))
    row = services(request).read_models.get_approval(key)
    if row is None:
        raise Bail(refusal(request, "Not found", f"No approval with id {key}.", 404))
    return dict(row)


@router.get("/approvals", response_class=HTMLResponse)
@console_page()
def approvals(request: Request, status: str = "pending", cursor: str | None = None) -> Response:
    chosen = status if status in STATUSES else None
    page = services(request).read_models.list_approvals(
        status=chosen, limit=PER_PAGE, cursor=cursor or None
    )
    items = [described(request, dict(r), preview=chosen == "pending") for r in page.items]
    return render(
        request,
        "approvals.html",
        {
            "nav": "approvals",
            "items": items,
            "status": chosen or "all",
            "statuses": STATUSES,
            "cursor": cursor,
            "next_cursor": page.next_cursor,
        },
    )


@router.get("/approvals/{approval_id}", response_class=HTMLResponse)
@console_page()
def approval(request: Request, approval_id: str) -> Response:
    """One approval: the requester's view of what waits, the decider's form, the outcome."""
    item = described(request, load(request, approval_id), preview=True)
    return render(request, "approval.html", {"nav": "approvals", "a": item})


def decide(request: Request, approval_id: str, verdict: str, reason: str, back: str) -> Response:
    row = load(request, approval_id)
    reason = reason.strip()
    target = safe_back(back, f"{PREFIX}/approvals/{row['id']}")
    ledger = services(request).ledger
    # An approved reset records how many receipts it unsyncs: count on caught-up views.
    settle(request, ledger.current_position())
    try:
        decision = ledger.approve if verdict == "approve" else ledger.reject
        decided = decision(context(request), str(row["id"]), reason=reason or None)
    except OwnApproval:
        return redirect(
            target,
            flash=f"You asked for this yourself, so you cannot {verdict} it: four-eyes means "
            "a different support token decides. Nothing was changed; ask a colleague.",
            kind="error",
            request=request,
        )
    except LedgerError as error:
        return redirect(
            target,
            flash=f"Nothing was changed: {error.message}",
            kind="error",
            request=request,
        )
    settle(request, decided.position)
    item = described(request, load(request, str(row["id"])), preview=False)
    return render(
        request,
        "approval.html",
        {
            "nav": "approvals",
            "a": item,
            "decided": decided,
            "outcome": outcome_words(item, decided.result),
        },
    )


def outcome_words(item: dict[str, Any], result: dict[str, Any] | None) -> str:
    name = item["reg"].get("name")
    asked = item["requested_by"]
    if item["status"] == "rejected":
        return f"Rejected: {asked}'s request is closed and nothing was changed."
    if item["action"] == "delete":
        unsynced = int((result or {}).get("unsynced") or 0)
        return (
            f"Approved and carried out: the session of {name} is deleted, "
            f"{plural(unsynced, 'record')} unsynced, as {asked} asked."
        )
    return f"Approved and carried out: the history of {name} is removed, as {asked} asked."


@router.post("/approvals/{approval_id}/{verdict}", response_class=HTMLResponse)
@console_page(write=True)
def approve_or_reject(
    request: Request,
    approval_id: str,
    verdict: str,
    reason: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """POST …/approve or …/reject (the two buttons of one form)."""
    if verdict not in ("approve", "reject"):
        raise Bail(refusal(request, "Not found", "There is no such console page.", 404))
    return decide(request, approval_id, verdict, reason, back)
