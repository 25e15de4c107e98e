from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from api.dependencies import Reader, ServicesDep, Support, context_for
from api.reads import Cursor, Limit, MinPosition, WaitS, await_position, paged, registration_row
from api.schemas import SyncRequestCancelIn, SyncRequestIn

router = APIRouter(prefix="/v1/registrations/{rid}/sync-requests", tags=["sync requests"])

ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "`not_found`: no such registration"},
    422: {"description": "`validation_error`: a field is missing or invalid"},
}


class SyncRequestOut(BaseModel):
    """A sync request as a command returns it (rule 14)."""

    id: str
    kind: Literal["periodic", "full"]
    status: Literal["pending", "fulfilled", "cancelled"]
    requested_by: str | None = None
    cancelled_by: str | None = None
    cancel_reason: str | None = None
    position: int


def _requested_by(services: Any, rid: UUID, request_id: str, position: int) -> str | None:
    """Who asked for a request already pending (the views know; at most two are pending)."""
    services.read_models.wait_for(position, 2.0)
    page = services.read_models.sync_requests(rid, status="pending", limit=10, cursor=None)
    return next((r["requested_by"] for r in page.items if r["id"] == request_id), None)


@router.post(
    "",
    status_code=201,
    summary="Ask the worker for a periodic or full sync (a kind already pending: that one)",
    operation_id="request_sync",
    response_model=SyncRequestOut,
    responses={
        200: {"description": "A request of that kind was pending: it is returned"},
        **ERRORS,
    },
)
def request_sync(
    rid: UUID,
    body: SyncRequestIn,
    request: Request,
    response: Response,
    services: ServicesDep,
    principal: Support,
) -> dict[str, Any]:
    result = services.ledger.request_sync(
        context_for(request, principal), rid, kind=body.kind, confirm=body.confirm
    )
    requested_by: str | None = principal.name
    if not result.created:  # rule 14: asking again for a pending kind returns it
        response.status_code = 200
        requested_by = _requested_by(services, rid, result.request_id, result.position)
    return {
        "id": result.request_id,
        "kind": result.kind,
        "status": "pending",
        "requested_by": requested_by,
        "position": result.position,
    }


@router.post(
    "/{request_id}/cancel",
    summary="Cancel a pending sync request, with a reason",
    operation_id="cancel_sync_request",
    response_model=SyncRequestOut,
    responses={
        409: {"description": "`request_not_pending`: fulfilled, cancelled, or never made"},
        **ERRORS,
    },
)
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


@router.get("", summary="Sync requests, pending, fulfilled and cancelled")
def list_sync_requests(
    rid: UUID,
    services: ServicesDep,
    principal: Reader,
    status: Annotated[Literal["pending", "fulfilled", "cancelled"] | None, Query()] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
    min_position: MinPosition = None,
    wait_s: WaitS = 5.0,
) -> dict[str, Any]:
    position = await_position(services, min_position, wait_s)
    registration_row(services, rid)
    return paged(
        lambda: services.read_models.sync_requests(rid, status=status, limit=limit, cursor=cursor),
        cursor,
        position,
    )
