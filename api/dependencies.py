"""FastAPI dependencies: services, the authenticated principal, roles, request context."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPBearer
from starlette.concurrency import run_in_threadpool

from api.auth import Principal
from api.errors import ApiError
from api.services import Services
from domain.values import Context

# The dependencies are `async def` on purpose: FastAPI runs a plain `def` dependency in the
# thread pool, one hop per dependency per request, which cost more than the work they do.


async def get_services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


ServicesDep = Annotated[Services, Depends(get_services)]


def _path_rid(request: Request) -> str | None:
    """The registration a /v1/registrations/{rid}/… request is about (None: not a valid id)."""
    raw = request.path_params.get("rid")
    if raw is None:
        return None
    try:
        return str(uuid.UUID(str(raw)))
    except ValueError:
        return None  # the endpoint's own validation answers 422


async def authenticate(request: Request, token: str | None) -> Principal:
    """The principal a bearer token names (401 when missing, unknown or revoked)."""
    if not token:
        raise ApiError(
            401,
            "unauthenticated",
            "This endpoint needs a bearer token: send 'Authorization: Bearer <token>' "
            "(create one with `syncledger tokens create NAME --role ROLE`).",
        )
    services = await get_services(request)
    tokens = services.tokens
    rid = _path_rid(request)
    if services.database.kind == "sqlite":
        # One indexed lookup on this thread's open connection: cheaper than a thread hop.
        found = tokens.verify_for(token, rid)
    else:
        # From memory when verified before (api/token_cache.py), else a query off the loop.
        found = tokens.cached(token, rid) or await run_in_threadpool(tokens.verify_for, token, rid)
    if found is None:
        raise ApiError(
            401,
            "unauthenticated",
            "The bearer token is unknown or has been revoked; ask for a new one.",
        )
    principal, holds = found
    request.state.principal = principal
    request.state.holds_registration = holds
    return principal


class RoleBearer(HTTPBearer):
    """The bearer scheme, the token check and the role check as one dependency.

    Three nested dependencies (bearer, principal, role) cost FastAPI three rounds of
    dependency solving per request - more than the check itself and a fifth of a small
    write's time in the API process (docs/architecture.md, "Small requests"). As an
    HTTPBearer it still documents the scheme in the OpenAPI document, under the same name."""

    def __init__(self, roles: tuple[str, ...]) -> None:
        super().__init__(
            auto_error=False,
            scheme_name="HTTPBearer",
            description="A token from `syncledger tokens create`.",
        )
        self.roles = roles

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
        principal = await authenticate(
            request, token.strip() if scheme.lower() == "bearer" else None
        )
        if principal.role not in self.roles:
            raise ApiError(
                403,
                "forbidden",
                f"Token {principal.name!r} has role {principal.role!r}; this action needs "
                f"one of: {', '.join(self.roles)}.",
                role=principal.role,
                allowed_roles=list(self.roles),
            )
        if principal.role == "worker":
            check_worker_scope(request, principal)
        return principal


def require_roles(*roles: str) -> Callable[..., Any]:
    return RoleBearer(tuple(roles))


def check_worker_scope(request: Request, principal: Principal) -> None:
    """A worker token sees only the registrations it registered: any other one is 404."""
    rid = _path_rid(request)
    if rid is None or request.state.holds_registration:
        return
    raise ApiError(404, "not_found", f"No registration with id {rid}.", registration_id=rid)


ANY_ROLE = ("worker", "support", "auditor")
Reader = Annotated[Principal, Depends(require_roles(*ANY_ROLE))]
Writer = Annotated[Principal, Depends(require_roles("worker", "support"))]
Support = Annotated[Principal, Depends(require_roles("support"))]
Inspector = Annotated[Principal, Depends(require_roles("support", "auditor"))]


def correlation_id(request: Request) -> str:
    value = request.scope.get("state", {}).get("correlation_id")
    return value or str(uuid.uuid4())


def context_for(request: Request, principal: Principal) -> Context:
    """The actor is the token's name (rule 11), never a body field."""
    return Context(actor=principal.name, correlation_id=correlation_id(request))
