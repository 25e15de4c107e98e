"""FastAPI dependencies: services, the authenticated principal, roles, request context."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import Principal
from api.errors import ApiError
from api.services import Services
from domain.values import Context

CORRELATION_HEADER = "x-correlation-id"
_CORRELATION_OK = re.compile(r"^[A-Za-z0-9._:/@+=-]{1,128}$")

bearer = HTTPBearer(auto_error=False, description="A token from `syncledger tokens create`.")


def get_services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


ServicesDep = Annotated[Services, Depends(get_services)]


def get_principal(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise ApiError(
            401, "unauthenticated",
            "This endpoint needs a bearer token: send 'Authorization: Bearer <token>' "
            "(create one with `syncledger tokens create NAME --role ROLE`).",
        )
    principal = services.tokens.verify(credentials.credentials)
    if principal is None:
        raise ApiError(
            401, "unauthenticated",
            "The bearer token is unknown or has been revoked; ask for a new one.",
        )
    request.state.principal = principal
    return principal


def require_roles(*roles: str) -> Callable[..., Principal]:
    allowed = tuple(roles)

    def dependency(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if principal.role not in allowed:
            raise ApiError(
                403, "forbidden",
                f"Token {principal.name!r} has role {principal.role!r}; this action needs "
                f"one of: {', '.join(allowed)}.",
                role=principal.role, allowed_roles=list(allowed),
            )
        return principal

    return dependency


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


class CorrelationIdMiddleware:
    """Takes X-Correlation-ID from the request (or makes one) and returns it on the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        value = ""
        for name, raw in scope.get("headers", []):
            if name == b"x-correlation-id":
                value = raw.decode("latin-1")
                break
        if not _CORRELATION_OK.match(value):
            value = str(uuid.uuid4())
        scope.setdefault("state", {})["correlation_id"] = value
        header = (b"x-correlation-id", value.encode("latin-1"))

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        await self.app(scope, receive, send_with_header)
