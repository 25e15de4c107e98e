from __future__ import annotations

from typing import Any

from api.dependencies import ServicesDep
from api.models import Health
from api.openapi import errors
from api.routing import PrefixRouter

router = PrefixRouter(prefix="/v1", tags=["health"])


@router.get(
    "/health",
    summary="Liveness, backend and projection lag (no token needed)",
    response_model=Health,
    responses=errors(503),
)
def health(services: ServicesDep) -> dict[str, Any]:
    return {
        "status": "ok",
        "database": services.database.kind,
        "projections": services.read_models.health(),
    }
