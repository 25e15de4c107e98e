from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request

from api.dependencies import Reader, ServicesDep, Support, context_for
from api.models import SyncRequest, SyncRequestList
from api.openapi import AUTH, errors
from api.reads import Cursor, Limit, MinPosition, WaitS, await_position, paged, registration_row
from api.schemas import SyncRequestIn

router = APIRouter(prefix="/v1/registrations/{rid}/sync-requests", tags=["sync requests"])


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
def request_sync(
    rid: UUID, body: SyncRequestIn, request: Request, services: ServicesDep, principal: Support
) -> dict[str, Any]:
    result = services.ledger.request_sync(
        context_for(request, principal), rid, kind=body.kind, confirm=body.confirm
    )
    return {
        "id": result.request_id,
        "kind": result.kind,
        "status": "pending",
        "requested_by": principal.name,
        "position": result.position,
    }


@router.get(
    "",
    summary="Sync requests, pending and fulfilled",
    response_model=SyncRequestList,
    responses=errors(*AUTH, 404),
)
def list_sync_requests(
    rid: UUID,
    services: ServicesDep,
    principal: Reader,
    status: Annotated[Literal["pending", "fulfilled"] | None, Query()] = None,
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
