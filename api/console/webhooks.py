"""Webhooks in the console (support, as in the API): the list, subscribe a receiver (its
signing secret shown once, on the page that answers the form, never again), stop one, and
each webhook's delivery log with every attempt.

The handlers call the API's own functions (api/routers/webhooks.py) with the signed-in
principal, so validation, storage and the delivery log are those of /v1/webhooks.
"""

from __future__ import annotations

from typing import Annotated, Any, get_args

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from api.console.auth import Bail, console_page, refusal, services
from api.console.pages import parse_id
from api.console.web import PREFIX, redirect, render
from api.errors import ApiError
from api.routers import webhooks as api
from api.webhooks.models import EventType, WebhookIn

router = APIRouter()
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
EVENT_WORDS = {
    "session.stuck": "a session became stuck",
    "session.failed": "a session failed",
    "session.deleted": "a session was deleted",
    "registration.reset": "a registration was reset",
    "action.undone": "a deletion or reset was undone",
    "approval.requested": "an action waits for approval",
}
DELIVERY_STATUSES = ("pending", "delivered", "failed", "cancelled")
DELIVERIES_PER_PAGE = 25


def _page(request: Request, **context: Any) -> Response:
    listing = api.list_webhooks(services(request), request.state.console_principal, 100, None)
    form = context.pop("form", {"url": "", "events": [], "description": ""})
    status_code = int(context.pop("status_code", 200))
    return render(
        request,
        "webhooks.html",
        {
            "hooks": [h.model_dump() for h in listing.items],
            "event_types": EVENT_TYPES,
            "event_words": EVENT_WORDS,
            "form": form,
            "error": None,
            "created": None,
            **context,
        },
        status_code=status_code,
    )


@router.get("/webhooks", response_class=HTMLResponse)
@console_page(support_only=True)
def webhooks(request: Request) -> Response:
    return _page(request)


def _problem(error: ValidationError) -> str:
    first = error.errors()[0]
    where = {"url": "The URL", "events": "The events", "description": "The description"}.get(
        str(first["loc"][0]) if first["loc"] else "", "The form"
    )
    text = str(first["msg"]).removeprefix("Value error, ")
    return f"{where} {text[:1].lower()}{text[1:]}".rstrip(".") + ". Nothing was created."


@router.post("/webhooks", response_class=HTMLResponse)
@console_page(write=True)
def create(
    request: Request,
    url: Annotated[str, Form()] = "",
    events: Annotated[list[str] | None, Form()] = None,
    description: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    form = {"url": url, "events": events or [], "description": description}
    try:
        body = WebhookIn.model_validate(
            {"url": url.strip(), "events": events or [], "description": description.strip() or None}
        )
    except ValidationError as error:
        return _page(request, form=form, error=_problem(error), status_code=422)
    created = api.create_webhook(body, services(request), request.state.console_principal)
    # The secret is on this page only: never in a redirect, a cookie or the list.
    return _page(request, created=created.model_dump(), status_code=201)


@router.post("/webhooks/{hook_id}/delete")
@console_page(write=True)
def delete(request: Request, hook_id: str, csrf: Annotated[str, Form()] = "") -> Response:
    key = parse_id(request, hook_id, "a webhook")
    hook = services(request).webhooks.get(str(key))
    try:
        api.delete_webhook(key, services(request), request.state.console_principal)
    except ApiError as error:
        return redirect(
            f"{PREFIX}/webhooks",
            flash=f"Nothing was deleted: {error.message}",
            kind="error",
            request=request,
        )
    return redirect(
        f"{PREFIX}/webhooks",
        flash=f"The webhook to {hook['url'] if hook else 'the receiver'} is deleted: no new "
        "messages, and its pending deliveries are cancelled.",
        request=request,
    )


@router.get("/webhooks/{hook_id}", response_class=HTMLResponse)
@console_page(support_only=True)
def deliveries(
    request: Request, hook_id: str, status: str = "", cursor: str | None = None
) -> Response:
    """One webhook's delivery log: each message, its attempts and its next retry."""
    key = parse_id(request, hook_id, "a webhook")
    hook = services(request).webhooks.get(str(key))
    if hook is None:
        raise Bail(refusal(request, "Not found", f"No webhook with id {key}.", 404))
    chosen = status if status in DELIVERY_STATUSES else None
    try:
        log = api.list_deliveries(
            key,
            services(request),
            request.state.console_principal,
            chosen,  # type: ignore[arg-type]
            DELIVERIES_PER_PAGE,
            cursor or None,
        )
    except ApiError as error:
        raise Bail(
            refusal(request, "Delivery log unavailable", error.message, error.status)
        ) from None
    return render(
        request,
        "webhook_deliveries.html",
        {
            "hook": hook,
            "items": [d.model_dump() for d in log.items],
            "status": chosen or "",
            "statuses": DELIVERY_STATUSES,
            "event_words": EVENT_WORDS,
            "cursor": cursor,
            "next_cursor": log.next_cursor,
        },
    )
