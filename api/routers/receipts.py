from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import Query

from api.dependencies import Reader, ServicesDep
from api.inline import inline
from api.models import DiffOut, ReceiptList
from api.openapi import AUTH, errors
from api.reads import (
    Cursor,
    Limit,
    MinPosition,
    WaitS,
    await_position,
    paged_under,
    read_response,
    require_registration,
)
from api.responses import ORJSONResponse
from api.routing import PrefixRouter
from api.schemas import DiffIn, EntityType, Key

router = PrefixRouter(prefix="/v1/registrations/{rid}/receipts", tags=["receipts"])


@router.get(
    "",
    operation_id="list_receipts",
    summary="Current receipts: which record was synced, by which session",
    response_model=ReceiptList,
    responses=errors(*AUTH, 404),
)
@inline
def receipts(
    rid: UUID,
    services: ServicesDep,
    principal: Reader,
    entity_type: Annotated[EntityType | None, Query()] = None,
    key: Annotated[Key | None, Query()] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
    min_position: MinPosition = None,
    wait_s: WaitS = 5.0,
) -> ORJSONResponse:
    position = await_position(services, min_position, wait_s)
    return read_response(
        paged_under(
            services,
            rid,
            lambda: services.read_models.receipts(
                rid, entity_type=entity_type, key=key, limit=limit, cursor=cursor
            ),
            cursor,
            position,
        )
    )


@router.post(
    "/diff",
    operation_id="diff_receipts",
    summary="Which of these records must be synced again",
    response_model=DiffOut,
    responses=errors(*AUTH, 404, 413),
)
def diff(
    rid: UUID,
    body: DiffIn,
    services: ServicesDep,
    principal: Reader,
    min_position: MinPosition = None,
    wait_s: WaitS = 5.0,
) -> dict[str, Any]:
    position = await_position(services, min_position, wait_s)
    require_registration(services, rid)
    result = services.read_models.diff(
        rid, [(r.entity_type, r.key, r.digest) for r in body.records]
    )
    return {**result, "position": position}
