"""Four-eyes approvals (rule 17): list, approve (carries the action out), reject."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import Query, Request

from api.dependencies import Inspector, ServicesDep, Support, context_for
from api.errors import ApiError
from api.lifecycle_models import ApprovalList, ApprovalOut, ApprovalPendingOut, DecisionIn
from api.openapi import AUTH, errors
from api.reads import Cursor, Limit, MinPosition, WaitS, await_position, paged, settled
from api.responses import ORJSONResponse
from api.routing import PrefixRouter
from api.services import Services
from domain.approvals import ApprovalDecided, ApprovalPending

router = PrefixRouter(prefix="/v1/approvals", tags=["approvals"])
DECISION_ERRORS = errors(
    401,
    (403, "forbidden (not a support token) or own_approval: the requester cannot decide"),
    404,
    (409, "approval_not_pending: already approved, rejected or expired"),
    422,
    503,
)
Status = Literal["pending", "approved", "rejected", "expired"]


# Rule 17: documented on the two actions it can hold (override deletion, reset).
APPROVAL_PENDING: dict[int | str, dict[str, Any]] = {
    202: {
        "model": ApprovalPendingOut,
        "description": "approvals_required: the action waits for a different support token "
        "(POST /v1/approvals/{id}/approve)",
    }
}


def pending_response(result: ApprovalPending) -> ORJSONResponse:
    """202: the action waits for a second support token (rule 17)."""
    body = ApprovalPendingOut(
        approval_id=result.approval_id, action=result.action, position=result.position
    )
    return ORJSONResponse(body.model_dump(), status_code=202)


@router.get(
    "",
    response_model=ApprovalList,
    operation_id="list_approvals",
    responses=errors(*AUTH),
    summary="Pending and decided approvals, newest first",
)
def list_approvals(
    services: ServicesDep,
    principal: Inspector,
    status: Annotated[Status | None, Query()] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
    min_position: MinPosition = None,
    wait_s: WaitS = 5.0,
) -> dict[str, Any]:
    position = await_position(services, min_position, wait_s)
    return paged(
        lambda: services.read_models.list_approvals(status=status, limit=limit, cursor=cursor),
        cursor,
        position,
    )


def _answer(services: Services, decided: ApprovalDecided) -> dict[str, Any]:
    settled(services, decided.position)
    row = services.read_models.get_approval(decided.approval_id)
    if row is None:
        raise ApiError(503, "projection_lagging", "The approval is recorded; read it again.")
    result = decided.result
    if result is not None:
        result = {**result, "position": decided.position}
    return {**row, "result": result, "position": decided.position}


@router.post(
    "/{approval_id}/approve",
    response_model=ApprovalOut,
    operation_id="approve",
    responses=DECISION_ERRORS,
    summary="Approve another support token's request: the action is carried out",
)
def approve(
    approval_id: UUID,
    body: DecisionIn,
    request: Request,
    services: ServicesDep,
    principal: Support,
) -> dict[str, Any]:
    decided = services.ledger.approve(
        context_for(request, principal), str(approval_id), reason=body.reason
    )
    return _answer(services, decided)


@router.post(
    "/{approval_id}/reject",
    response_model=ApprovalOut,
    operation_id="reject",
    responses=DECISION_ERRORS,
    summary="Reject another support token's request: nothing is carried out",
)
def reject(
    approval_id: UUID,
    body: DecisionIn,
    request: Request,
    services: ServicesDep,
    principal: Support,
) -> dict[str, Any]:
    decided = services.ledger.reject(
        context_for(request, principal), str(approval_id), reason=body.reason
    )
    return _answer(services, decided)
