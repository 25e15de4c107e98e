from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import Query, Request, Response

from api.dependencies import Reader, ServicesDep, Support, context_for
from api.inline import inline
from api.models import SyncRequest, SyncRequestList
from api.openapi import AUTH, errors
from api.reads import Cursor, Limit, MinPosition, WaitS, await_position, paged, require_registration
from api.responses import typed
from api.routing import PrefixRouter
from api.schemas import SyncRequestCancelIn, SyncRequestIn
from api.services import Services

router = PrefixRouter(prefix="/v1/registrations/{rid}/sync-requests", tags=["sync requests"])


def _requested_by(services: Services, rid: UUID, request_id: str, position: int) -> str | None:
    """Who asked for a request that was already pending (the views know; rule 14 keeps at
    most one pending request per kind)."""
    services.read_models.wait_for(position, 2.0)
    page = services.read_models.sync_requests(rid, status="pending", limit=10, cursor=None)
    return next((r["requested_by"] for r in page.items if r["id"] == request_id), None)


@router.post(
    "",
    status_code=201,
    summary="Ask the worker for a periodic or full sync",
    response_model=SyncRequest,
    response_description="Requested",
    responses={
        200: {"model": SyncRequest, "description": "One of this kind was pending: that one"},
        **errors(*AUTH, 404, 413, (422, "validation_error: e.g. a full sync needs confirm: true")),
    },
)
@inline
def request_sync(
    rid: UUID,
    body: SyncRequestIn,
    request: Request,
    services: ServicesDep,
    principal: Support,
) -> Response:
    result = services.ledger.request_sync(
        context_for(request, principal), rid, kind=body.kind, confirm=body.confirm
    )
    requested_by: str | None = principal.name
    if not result.created:  # rule 14: asking again for a pending kind returns that request
        requested_by = _requested_by(services, rid, result.request_id, result.position)
    answer = {
        "id": result.request_id,
        "kind": result.kind,
        "status": "pending",
        "requested_by": requested_by,
        "position": result.position,
    }
    return typed(SyncRequest, answer, 201 if result.created else 200)


@router.post(
    "/{request_id}/cancel",
    summary="Cancel a pending sync request, with a reason",
    response_model=SyncRequest,
    response_description="Cancelled",
    responses=errors(
        *AUTH, 404, 413, (409, "request_not_pending: it was fulfilled or cancelled already")
    ),
)
@inline
def cancel_sync_request(
    rid: UUID,
    request_id: UUID,
    body: SyncRequestCancelIn,
    request: Request,
    services: ServicesDep,
    principal: Support,
) -> dict[str, Any]:
    result = services.ledger.cancel_sync_request(
        context_for(request, principal), rid, str(request_id), reason=body.reason
    )
    return {
        "id": result.request_id,
        "kind": result.kind,
        "status": "cancelled",
        "cancelled_by": principal.name,
        "cancel_reason": body.reason,
        "position": result.position,
    }


@router.get(
    "",
    summary="Sync requests, pending, fulfilled and cancelled",
    response_model=SyncRequestList,
    responses=errors(*AUTH, 404),
)
def list_sync_requests(
    rid: UUID,
    services: ServicesDep,
    principal: Reader,
    # A plain string with its values in the pattern: a generated client passes "pending"
    # (an inline enum would become an awkwardly named class there).
    status: Annotated[
        str | None,
        Query(
            pattern="^(pending|fulfilled|cancelled)$", description="pending, fulfilled or cancelled"
        ),
    ] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
    min_position: MinPosition = None,
    wait_s: WaitS = 5.0,
) -> dict[str, Any]:
    position = await_position(services, min_position, wait_s)
    require_registration(services, rid)
    return paged(
        lambda: services.read_models.sync_requests(rid, status=status, limit=limit, cursor=cursor),
        cursor,
        position,
    )
