from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import Query

from api.audit_models import EventList
from api.dependencies import Inspector, ServicesDep
from api.eventlog import registration_events
from api.openapi import AUTH, errors
from api.reads import Limit
from api.routing import PrefixRouter
from domain.values import MAX_POSITION
from projections.fmt import position_cursor

router = PrefixRouter(prefix="/v1/registrations/{rid}/events", tags=["events"])


@router.get(
    "",
    operation_id="list_events",
    summary="The immutable event history of a registration and its sessions",
    response_model=EventList,
    responses=errors(*AUTH, 404),
)
def events(
    rid: UUID,
    services: ServicesDep,
    principal: Inspector,
    after: Annotated[
        int, Query(ge=0, le=MAX_POSITION, description="Only events after this position")
    ] = 0,
    limit: Limit = 100,
    cursor: Annotated[
        str | None,
        Query(
            max_length=20,
            pattern=r"^[0-9]+$",
            description="next_cursor of the previous page (same as after)",
        ),
    ] = None,
) -> dict[str, Any]:
    after = max(after, position_cursor(cursor) or 0)
    services.ledger.get_registration(rid)  # 404 for an unknown registration
    items = registration_events(services.ledger, services.database, rid, after=after, limit=limit)
    next_cursor = str(items[-1]["position"]) if len(items) == limit else None
    return {
        "items": items,
        "next_cursor": next_cursor,
        "position": services.ledger.current_position(),
    }
