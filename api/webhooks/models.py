"""Request and response bodies of the webhook endpoints."""

from __future__ import annotations

from typing import Annotated, Literal

import httpx
from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from api.schemas import Body, Reason, bounded
from domain.values import MAX_TEXT_LENGTH

EventType = Literal[
    "session.stuck",
    "session.failed",
    "session.deleted",
    "registration.reset",
    "action.undone",
    "approval.requested",
]


def _http_url(value: str) -> str:
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, ValueError):
        raise ValueError("must be an absolute http:// or https:// URL") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("must be an absolute http:// or https:// URL")
    return value


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


Url = Annotated[Reason, AfterValidator(_http_url)]
Description = Annotated[
    str, StringConstraints(max_length=MAX_TEXT_LENGTH), bounded(MAX_TEXT_LENGTH, required=False)
]


class WebhookIn(Body):
    url: Url = Field(description="Where to POST each message (http or https)")
    events: Annotated[list[EventType], AfterValidator(_unique)] = Field(
        min_length=1, max_length=6, description="Event types this receiver wants"
    )
    description: Description | None = None


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    description: str | None
    created_by: str | None
    created_at: str | None
    from_position: int = Field(description="Events after this position are announced")
    deleted_at: str | None = None


class WebhookCreated(WebhookOut):
    secret: str = Field(
        description="Signing secret (Standard Webhooks, whsec_…). Shown this once: keep it."
    )


class WebhookList(BaseModel):
    items: list[WebhookOut]
    next_cursor: str | None
    position: int


class Attempt(BaseModel):
    attempt: int
    at: str | None
    response_code: int | None
    error: str | None
    duration_ms: float | None


class Delivery(BaseModel):
    id: str = Field(description="The webhook-id header: the same on every retry")
    position: int
    event_type: str
    status: Literal["pending", "delivered", "failed", "cancelled"]
    attempts: int
    next_attempt_at: str | None = Field(description="Next retry (pending deliveries)")
    last_response_code: int | None
    last_error: str | None
    created_at: str | None
    delivered_at: str | None
    payload: dict[str, object]
    attempt_log: list[Attempt]


class DeliveryList(BaseModel):
    items: list[Delivery]
    next_cursor: str | None
    position: int


class WebhookDeleted(BaseModel):
    id: str
    deleted: bool
