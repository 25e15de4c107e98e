"""Heartbeats (rule 15) and registration settings (rule 18)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import Request, Response

from api.dependencies import ServicesDep, Support, Writer, context_for
from api.errors import ApiError
from api.inline import inline
from api.lifecycle_models import HeartbeatIn, HeartbeatOut, SettingsIn, SettingsOut
from api.openapi import AUTH, errors
from api.responses import typed
from api.routers.registrations import registration_body
from api.routing import PrefixRouter

router = PrefixRouter(prefix="/v1/registrations/{rid}", tags=["lifecycle"])

NOT_NULL = ("name", "sync_interval_minutes", "stuck_after_minutes", "approvals_required")


@router.post(
    "/sessions/{sid}/heartbeat",
    response_model=HeartbeatOut,
    operation_id="heartbeat",
    responses=errors(
        *AUTH, 404, (409, "session_not_in_progress: it ended or was removed; start a new one")
    ),
    summary="An alive but idle agent renews its session (rule 15)",
)
@inline
def heartbeat(
    rid: UUID,
    sid: UUID,
    body: HeartbeatIn,
    request: Request,
    services: ServicesDep,
    principal: Writer,
) -> Response:
    result = services.ledger.heartbeat(context_for(request, principal), rid, str(sid))
    at = result.last_activity_at.isoformat(timespec="microseconds").replace("+00:00", "Z")
    return typed(HeartbeatOut, HeartbeatOut(last_activity_at=at, position=result.position))


@router.patch(
    "",
    operation_id="update_registration",
    response_model=SettingsOut,
    responses=errors(*AUTH, 404),
    summary="Change a registration's settings (support; one event per change, rule 18)",
)
@inline
def update_registration(
    rid: UUID,
    body: SettingsIn,
    request: Request,
    services: ServicesDep,
    principal: Support,
) -> dict[str, Any]:
    wanted = {name: getattr(body, name) for name in body.model_fields_set}
    for name in NOT_NULL:
        if name in wanted and wanted[name] is None:
            raise ApiError(
                422,
                "validation_error",
                f"{name} cannot be null; leave it out to keep it as it is.",
                field=name,
            )
    result = services.ledger.update_settings(context_for(request, principal), rid, wanted)
    body_out = registration_body(services, rid, result.position)
    return {**body_out, "changed": sorted(result.changed)}
