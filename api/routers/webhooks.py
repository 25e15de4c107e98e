"""Webhooks: subscribe a receiver to events, list, stop, and read its delivery log."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import Query

from api.dependencies import ServicesDep, Support
from api.errors import ApiError
from api.openapi import AUTH, errors
from api.reads import Cursor, Limit
from api.routing import PrefixRouter
from api.services import Services
from api.webhooks.models import (
    DeliveryList,
    WebhookCreated,
    WebhookDeleted,
    WebhookIn,
    WebhookList,
)
from api.webhooks.store import WebhookStore
from domain.liveness import to_micros

router = PrefixRouter(prefix="/v1/webhooks", tags=["webhooks"])


def _store(services: Services) -> WebhookStore:
    return services.webhooks


def _known(services: Services, hook_id: UUID) -> None:
    row = _store(services).get(str(hook_id))
    if row is None or row["deleted_at"] is not None:
        raise ApiError(404, "not_found", f"No webhook with id {hook_id}.", webhook_id=str(hook_id))


@router.post(
    "",
    status_code=201,
    response_model=WebhookCreated,
    operation_id="create_webhook",
    responses=errors(*AUTH),
    summary="Subscribe a receiver (the signing secret is shown once)",
)
def create_webhook(body: WebhookIn, services: ServicesDep, principal: Support) -> WebhookCreated:
    row = _store(services).create(
        url=body.url,
        events=list(body.events),
        description=body.description,
        actor=principal.name,
        now=to_micros(services.clock()),
    )
    return WebhookCreated(**row)


@router.get(
    "",
    response_model=WebhookList,
    operation_id="list_webhooks",
    responses=errors(*AUTH),
    summary="Active webhooks (secrets are never shown again)",
)
def list_webhooks(
    services: ServicesDep, principal: Support, limit: Limit = 100, cursor: Cursor = None
) -> WebhookList:
    items, nxt = _store(services).list_hooks(limit=limit, cursor=cursor)
    return WebhookList.model_validate(
        {"items": items, "next_cursor": nxt, "position": services.ledger.current_position()}
    )


@router.delete(
    "/{hook_id}",
    response_model=WebhookDeleted,
    operation_id="delete_webhook",
    responses=errors(*AUTH, 404),
    summary="Stop a webhook (its pending deliveries are cancelled)",
)
def delete_webhook(hook_id: UUID, services: ServicesDep, principal: Support) -> WebhookDeleted:
    _known(services, hook_id)
    _store(services).delete(str(hook_id), actor=principal.name, now=to_micros(services.clock()))
    return WebhookDeleted(id=str(hook_id), deleted=True)


@router.get(
    "/{hook_id}/deliveries",
    response_model=DeliveryList,
    operation_id="list_deliveries",
    responses=errors(*AUTH, 404),
    summary="The delivery log: each message, its attempts and its next retry",
)
def list_deliveries(
    hook_id: UUID,
    services: ServicesDep,
    principal: Support,
    status: Annotated[
        Literal["pending", "delivered", "failed", "cancelled"] | None, Query()
    ] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> DeliveryList:
    row = _store(services).get(str(hook_id))
    if row is None:
        raise ApiError(404, "not_found", f"No webhook with id {hook_id}.", webhook_id=str(hook_id))
    items, nxt = _store(services).deliveries(
        str(hook_id), status=status, limit=limit, cursor=cursor
    )
    return DeliveryList.model_validate(
        {"items": items, "next_cursor": nxt, "position": _store(services).position()}
    )
