"""Grants (rule 13): support lets a second worker token reach a registration, lists who may,
and takes a grant back. Each change is an event of the registration, on the audit log."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import Body, Path, Request, Response

from api import grants
from api.dependencies import Inspector, ServicesDep, Support, context_for
from api.lifecycle_models import GrantIn, GrantList, GrantOut, GrantRevokedOut, RevokeGrantIn
from api.openapi import AUTH, errors
from api.routing import PrefixRouter
from api.schemas import Name

router = PrefixRouter(prefix="/v1/registrations/{rid}/grants", tags=["grants"])
TokenName = Annotated[Name, Path(description="The worker token's name")]


@router.post(
    "",
    status_code=201,
    operation_id="create_grant",
    response_model=GrantOut,
    responses={
        200: {"model": GrantOut, "description": "The token could already reach it: unchanged"},
        **errors(
            *AUTH,
            404,
            (422, "validation_error: no such token, or not a worker token (details.field)"),
        ),
    },
    summary="Let a worker token reach a registration another worker holds (rule 13)",
)
def create_grant(
    rid: UUID,
    body: GrantIn,
    request: Request,
    response: Response,
    services: ServicesDep,
    principal: Support,
) -> dict[str, Any]:
    ctx = context_for(request, principal)
    result = grants.grant(services.ledger, services.tokens, ctx, rid, body.token_name, body.reason)
    response.status_code = 201 if result.changed else 200
    return {**grants.grant_item(services.ledger, rid, body.token_name), "position": result.position}


@router.get(
    "",
    operation_id="list_grants",
    response_model=GrantList,
    responses=errors(*AUTH, 404),
    summary="Who may reach a registration: its holder and the grants",
)
def list_grants(rid: UUID, services: ServicesDep, principal: Inspector) -> dict[str, Any]:
    return grants.grant_list(services.ledger, rid)


@router.delete(
    "/{token_name}",
    operation_id="delete_grant",
    response_model=GrantRevokedOut,
    responses=errors(*AUTH, (404, "not_found: no such registration, or no grant for that name")),
    summary="Take a grant back: that worker token no longer reaches the registration",
)
def delete_grant(
    rid: UUID,
    token_name: TokenName,
    request: Request,
    services: ServicesDep,
    principal: Support,
    body: Annotated[RevokeGrantIn | None, Body()] = None,
) -> dict[str, Any]:
    ctx = context_for(request, principal)
    reason = body.reason if body is not None else None
    result = grants.revoke(services.ledger, services.tokens, ctx, rid, token_name, reason)
    return {
        "registration_id": str(rid),
        "token_name": token_name,
        "revoked": True,
        "position": result.position,
    }
