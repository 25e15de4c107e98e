"""Deleting a session (rules 5, 6, 17): the dry run, the deletion, or its approval request.

Beside api/routers/sessions.py, under the same prefix: the one destructive session command.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import Request

from api.dependencies import ServicesDep, Support, context_for
from api.inline import inline
from api.models import DeleteOut
from api.openapi import AUTH, errors
from api.responses import typed
from api.routers.approvals import APPROVAL_PENDING, pending_response
from api.routing import PrefixRouter
from api.schemas import DeleteIn
from domain.approvals import ApprovalPending
from domain.removal import DRY_RUN_RECORDS

router = PrefixRouter(prefix="/v1/registrations/{rid}/sessions", tags=["sessions"])


@router.post(
    "/{sid}/delete",
    operation_id="delete_session",
    summary="Delete a session and unsync its records (undoable)",
    response_model_exclude_unset=True,
    response_model=DeleteOut,
    responses=errors(
        *AUTH,
        404,
        (
            409,
            "unsafe_deletion: a rule-5 check failed (details.failed_checks; pass override "
            "with a ticket); already_deleted: it was deleted before",
        ),
        413,
    )
    | APPROVAL_PENDING,
)
@inline
def delete(
    rid: UUID,
    sid: UUID,
    body: DeleteIn,
    request: Request,
    services: ServicesDep,
    principal: Support,
) -> Any:  # a dict, or 202 when rule 17 holds the action
    ledger = services.ledger
    if body.dry_run:
        preview = ledger.preview_deletion(rid, str(sid))
        return {
            "deleted": False,
            "would_unsync": preview.would_unsync,
            "records": [
                {"entity_type": et, "key": key, "digest": digest}
                for et, key, digest in preview.records[:DRY_RUN_RECORDS]
            ],
            "deletion_check": preview.check.as_dict(),
            "position": ledger.current_position(),
        }
    result = ledger.delete_session(
        context_for(request, principal),
        rid,
        str(sid),
        reason=body.reason,
        override=body.override,
        ticket=body.ticket,
    )
    if isinstance(result, ApprovalPending):  # rule 17: waits for a second support token
        return pending_response(result)
    # The receipts it unsynced as the domain counted them (the dry run's function, rule 19).
    deleted = {"deleted": True, "unsynced": result.unsynced, "position": result.position}
    return typed(DeleteOut, deleted, exclude_unset=True)
