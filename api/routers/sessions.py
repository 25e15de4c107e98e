from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import Body, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from api.batches import openapi_body, parse_batch
from api.dependencies import Reader, ServicesDep, Writer, context_for
from api.errors import ApiError
from api.inline import inline, off_loop
from api.models import (
    BatchOut,
    ErrorRecorded,
    Session,
    SessionList,
    SessionRecordList,
)
from api.openapi import AUTH, errors
from api.reads import (
    Cursor,
    Limit,
    MinPosition,
    WaitS,
    await_position,
    paged,
    paged_under,
    read_response,
)
from api.responses import ORJSONResponse, typed
from api.routing import PrefixRouter
from api.schemas import CompleteIn, ErrorIn, FailIn, SessionIn
from api.services import Services
from api.written import session_written
from replay.asof import history_as_of as replay_history

router = PrefixRouter(prefix="/v1/registrations/{rid}/sessions", tags=["sessions"])
NO_FIELDS = CompleteIn()  # complete takes `{}` (or no body at all)
SessionStatus = Literal["in_progress", "stuck", "completed", "failed", "deleted"]


def session_row(services: Services, rid: UUID, sid: str) -> dict[str, Any]:
    row = services.read_models.get_session(rid, sid)
    if row is None:
        raise ApiError(
            404,
            "not_found",
            f"No session {sid} in registration {rid}.",
            registration_id=str(rid),
            session_id=sid,
        )
    return row


@router.post(
    "",
    status_code=201,
    summary="Start a session (idempotent on session_id)",
    response_model_exclude_unset=True,
    response_model=Session,
    response_description="Started",
    responses={
        200: {"model": Session, "description": "This session_id was already started"},
        **errors(
            *AUTH,
            404,
            (
                409,
                "session_in_progress: a session of this sync_type is in progress "
                "(details.blocking_session_id); registration_held: another worker holds it",
            ),
            413,
        ),
    },
)
@inline
def start_session(
    rid: UUID,
    body: SessionIn,
    request: Request,
    services: ServicesDep,
    principal: Writer,
) -> Response:
    result = services.ledger.start_session(
        context_for(request, principal),
        rid,
        sync_type=body.sync_type,
        session_id=str(body.session_id) if body.session_id else None,
        worker=body.worker or "",
        entity_types=body.entity_types,
        request_id=str(body.request_id) if body.request_id else None,
    )
    answer = session_written(services, rid, result.session_id, result.position)
    return typed(Session, answer, 201 if result.created else 200, exclude_unset=True)


@router.get(
    "",
    summary="Session history, most recent first (or as it stood then)",
    response_model_exclude_unset=True,
    response_model=SessionList,
    responses=errors(*AUTH, 404),
)
@inline
def list_sessions(
    rid: UUID,
    services: ServicesDep,
    principal: Reader,
    include_deleted: bool = False,
    status: Annotated[
        SessionStatus | None,
        Query(
            description="in_progress (and not stuck), stuck, completed, failed, or deleted "
            "(removed by a deletion or a reset; implies include_deleted)"
        ),
    ] = None,
    has_errors: Annotated[
        bool | None, Query(description="Only sessions with (true) or without (false) errors")
    ] = None,
    as_of: Annotated[datetime | None, Query(description="History as it stood at this time")] = None,
    as_of_position: Annotated[
        int | None, Query(ge=0, le=2**62, description="History as it stood at this position")
    ] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
    min_position: MinPosition = None,
    wait_s: WaitS = 5.0,
) -> Any:  # a page, or the history as of a time (validated)
    if as_of is not None or as_of_position is not None:
        off_loop()  # a replay of the registration's log, not a small read
        return history_as_of(services, rid, as_of, as_of_position, include_deleted)
    position = await_position(services, min_position, wait_s)
    return read_response(
        paged_under(
            services,
            rid,
            lambda: services.read_models.list_sessions(
                rid,
                include_deleted=include_deleted,
                limit=limit,
                cursor=cursor,
                status=status,
                has_errors=has_errors,
            ),
            cursor,
            position,
        )
    )


def history_as_of(
    services: Services,
    rid: UUID,
    at: datetime | None,
    position: int | None,
    include_deleted: bool,
) -> dict[str, Any]:
    if at is not None and position is not None:
        raise ApiError(
            422, "validation_error", "Pass as_of or as_of_position, not both.", field="as_of"
        )
    if at is not None and at.tzinfo is None:
        raise ApiError(
            422,
            "validation_error",
            "as_of needs a time zone (RFC 3339, e.g. 2024-08-05T09:30:00Z).",
            field="as_of",
        )
    services.ledger.get_registration(rid)  # 404 for an unknown registration
    result = replay_history(
        services.ledger, rid, at=at, position=position, include_deleted=include_deleted
    )
    at_position = position if position is not None else services.ledger.current_position()
    return {"items": result, "next_cursor": None, "position": at_position}


@router.get(
    "/{sid}",
    summary="One session with its errors and deletion check",
    response_model_exclude_unset=True,
    response_model=Session,
    responses=errors(*AUTH, 404),
)
@inline
def get_session(
    rid: UUID,
    sid: UUID,
    services: ServicesDep,
    principal: Reader,
    min_position: MinPosition = None,
    wait_s: WaitS = 5.0,
) -> ORJSONResponse:
    position = await_position(services, min_position, wait_s)
    return read_response({**session_row(services, rid, str(sid)), "position": position})


@router.get(
    "/{sid}/records",
    operation_id="list_session_records",
    summary="Records this session synced",
    response_model=SessionRecordList,
    responses=errors(*AUTH, 404),
)
def session_records(
    rid: UUID,
    sid: UUID,
    services: ServicesDep,
    principal: Reader,
    limit: Limit = 100,
    cursor: Cursor = None,
    min_position: MinPosition = None,
    wait_s: WaitS = 5.0,
) -> dict[str, Any]:
    position = await_position(services, min_position, wait_s)
    session_row(services, rid, str(sid))
    return paged(
        lambda: services.read_models.session_records(rid, str(sid), limit=limit, cursor=cursor),
        cursor,
        position,
    )


@router.post(
    "/{sid}/records",
    summary="Record a batch of 1 to 10,000 records",
    openapi_extra=openapi_body(),
    response_model=None,
    responses={
        200: {"model": BatchOut, "description": "The batch was recorded"},
        **errors(
            *AUTH,
            404,
            (
                409,
                "session_not_in_progress: the session already ended; "
                "registration_held: another worker holds the registration",
            ),
            413,
        ),
    },
)
async def record_batch(
    rid: UUID,
    sid: UUID,
    request: Request,
    services: ServicesDep,
    principal: Writer,
) -> ORJSONResponse:
    # The body is parsed here, not by pydantic: see api/batches.py (issues 3 and 6).
    records, batch_id = parse_batch(await request.body())
    result = await run_in_threadpool(
        services.ledger.record_batch,
        context_for(request, principal),
        rid,
        str(sid),
        records,
        batch_id=batch_id,
    )
    return ORJSONResponse(
        {
            "accepted": result.accepted,
            "duplicates": result.duplicates,
            "records_synced": result.records_synced,
            "position": result.position,
        }
    )


@router.post(
    "/{sid}/errors",
    status_code=201,
    summary="Record an error against a session",
    response_model=ErrorRecorded,
    responses=errors(*AUTH, 404, 409, 413),
)
@inline
def record_error(
    rid: UUID,
    sid: UUID,
    body: ErrorIn,
    request: Request,
    services: ServicesDep,
    principal: Writer,
) -> Response:
    position = services.ledger.record_error(
        context_for(request, principal),
        rid,
        str(sid),
        message=body.message,
        entity_type=body.entity_type,
        key=body.key,
    )
    recorded = {
        "session_id": str(sid),
        "message": body.message,
        "entity_type": body.entity_type,
        "key": body.key,
        "position": position,
    }
    return typed(ErrorRecorded, recorded, 201)


@router.post(
    "/{sid}/complete",
    operation_id="complete_session",
    summary="End a session as completed",
    # Documented as required so generated clients always send `{}` (the server also takes
    # an empty request).
    openapi_extra={"requestBody": {"required": True}},
    response_model_exclude_unset=True,
    response_model=Session,
    responses=errors(*AUTH, 404, (409, "session_not_in_progress: the session already ended"), 413),
)
@inline
def complete(
    rid: UUID,
    sid: UUID,
    request: Request,
    services: ServicesDep,
    principal: Writer,
    body: Annotated[CompleteIn, Body()] = NO_FIELDS,
) -> Response:
    position = services.ledger.complete_session(context_for(request, principal), rid, str(sid))
    return typed(Session, session_written(services, rid, str(sid), position), exclude_unset=True)


@router.post(
    "/{sid}/fail",
    operation_id="fail_session",
    summary="End a session as failed, with a reason",
    response_model_exclude_unset=True,
    response_model=Session,
    responses=errors(*AUTH, 404, (409, "session_not_in_progress: the session already ended"), 413),
)
@inline
def fail(
    rid: UUID,
    sid: UUID,
    body: FailIn,
    request: Request,
    services: ServicesDep,
    principal: Writer,
) -> Response:
    position = services.ledger.fail_session(
        context_for(request, principal), rid, str(sid), reason=body.reason
    )
    return typed(Session, session_written(services, rid, str(sid), position), exclude_unset=True)
