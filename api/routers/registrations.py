from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import Query, Request, Response

from api.dependencies import Reader, ServicesDep, Support, Writer, context_for
from api.inline import inline
from api.models import Registration, RegistrationList, ResetOut
from api.openapi import AUTH, errors
from api.reads import (
    Cursor,
    Limit,
    MinPosition,
    WaitS,
    await_position,
    paged,
    registration_read,
    registration_row,
    scope_of,
    settled,
)
from api.responses import ORJSONResponse, typed
from api.routers.approvals import APPROVAL_PENDING, pending_response
from api.routing import PrefixRouter
from api.schemas import FileId, Name, Product, RegistrationIn, ResetIn
from api.services import Services
from api.written import registration_written
from domain.approvals import ApprovalPending

router = PrefixRouter(prefix="/v1/registrations", tags=["registrations"])


def registration_body(services: Services, rid: UUID, position: int) -> dict[str, Any]:
    """A registration that existed before this write: the views' row (with its counts and
    worker status) once they reflect `position`, else the Ledger's own state."""
    if settled(services, position):
        row = services.read_models.get_registration(rid)
        if row is not None:
            return {**row, "position": position}
    return registration_written(services, rid, position)


@router.post(
    "",
    status_code=201,
    summary="Register a sync bucket (idempotent on product+file_id)",
    response_model_exclude_unset=True,
    response_model=Registration,
    response_description="Registered (rule 1)",
    responses={
        200: {"model": Registration, "description": "Already registered: the same one"},
        **errors(
            *AUTH,
            (409, "registration_held: another worker token holds it (rule 13); support grants"),
            413,
        ),
    },
)
@inline
def register(
    body: RegistrationIn,
    request: Request,
    services: ServicesDep,
    principal: Writer,
) -> Response:
    mark = services.tokens.change_mark()
    result = services.ledger.register(
        context_for(request, principal),
        product=body.product,
        file_id=body.file_id,
        name=body.name,
        sync_interval_minutes=body.sync_interval_minutes,
        stuck_after_minutes=body.stuck_after_minutes,
        # Rule 13, decided by the domain: a worker registering a file another worker holds
        # is refused (409 registration_held).
        worker=principal.name if principal.role == "worker" else None,
        # Worker scope: the row "this token may reach it", committed in the Registered (or
        # HolderClaimed) event's own transaction (no second commit).
        side_writes=lambda rid: [services.tokens.claim_write(principal.name, rid)],
    )
    if principal.role == "worker":
        held = str(result.registration_id)
        if not result.created:
            # Admitted (holder or granted): make sure its row is there (a no-op read
            # usually); a new one's claim committed with its event.
            services.tokens.claim(principal.name, held)
        services.tokens.note_held(principal.name, held, mark)
    if result.created:  # answered from the command's own state (api/written.py)
        answer = registration_written(
            services, result.registration_id, result.position, created=True
        )
        return typed(Registration, answer, 201, exclude_unset=True)
    # Registered before: answer with its counts and worker status (the views' row).
    answer = registration_body(services, result.registration_id, result.position)
    return typed(Registration, answer, 200, exclude_unset=True)


RegistrationStatus = Literal["stuck", "failed", "in_progress"]
SearchText = Annotated[
    Name | None,
    Query(description="Text to find in product, file id or name (case-insensitive)"),
]


@router.get(
    "",
    summary="Registrations, most recently updated first",
    response_model=RegistrationList,
    responses=errors(*AUTH),
)
def list_registrations(
    services: ServicesDep,
    principal: Reader,
    product: Annotated[Product | None, Query()] = None,
    file_id: Annotated[FileId | None, Query()] = None,
    q: SearchText = None,
    status: Annotated[
        RegistrationStatus | None,
        Query(
            description="stuck: has a stuck session; failed: the last ended session of some "
            "sync type failed; in_progress: has a session in progress"
        ),
    ] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
    min_position: MinPosition = None,
    wait_s: WaitS = 5.0,
) -> dict[str, Any]:
    position = await_position(services, min_position, wait_s)
    scope = scope_of(principal)  # a worker lists only what it may reach (rule 13)
    return paged(
        lambda: services.read_models.list_registrations(
            product=product,
            file_id=file_id,
            limit=limit,
            cursor=cursor,
            q=q,
            status=status,
            scope=scope,
        ),
        cursor,
        position,
    )


@router.get(
    "/{rid}",
    summary="One registration with its worker status",
    response_model=Registration,
    responses=errors(*AUTH, 404),
)
@inline
def get_registration(
    rid: UUID,
    services: ServicesDep,
    principal: Reader,
    min_position: MinPosition = None,
    wait_s: WaitS = 5.0,
) -> ORJSONResponse:
    position = await_position(services, min_position, wait_s)
    return registration_read(registration_row(services, rid), position)


@router.post(
    "/{rid}/reset",
    operation_id="reset_registration",
    summary="Remove the history of every previous sync (undoable)",
    response_model=ResetOut,
    responses=errors(
        *AUTH,
        404,
        413,
        (422, "validation_error: e.g. confirm_file_id is not the registration's file_id"),
    )
    | APPROVAL_PENDING,
)
def reset(
    rid: UUID, body: ResetIn, request: Request, services: ServicesDep, principal: Support
) -> Any:  # a dict, or 202 when rule 17 holds the action
    ledger = services.ledger
    ledger.get_registration(rid)  # 404 before anything else
    result = ledger.reset_registration(
        context_for(request, principal),
        rid,
        reason=body.reason,
        confirm_file_id=body.confirm_file_id,
    )
    if isinstance(result, ApprovalPending):  # rule 17: waits for a second support token
        return pending_response(result)
    unsynced = result.receipts
    if settled(services, result.position):
        entry = services.read_models.audit_entry(result.position - 1)
        if entry is not None and entry.get("unsynced") is not None:
            unsynced = entry["unsynced"]
    return {"unsynced": unsynced or 0, "position": result.position}
