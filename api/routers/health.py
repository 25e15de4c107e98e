from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.dependencies import ServicesDep

router = APIRouter(prefix="/v1", tags=["health"])


@router.get("/health", summary="Liveness, backend and projection lag (no token needed)")
def health(services: ServicesDep) -> dict[str, Any]:
    return {
        "status": "ok",
        "database": services.database.kind,
        "projections": services.read_models.health(),
    }
