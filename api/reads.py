"""Helpers shared by the routers: read-your-writes, pages, write responses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from uuid import UUID

from fastapi import Query

from api.auth import Principal
from api.errors import ApiError
from api.responses import ORJSONResponse
from api.services import Services
from domain.values import MAX_POSITION
from projections.fmt import MAX_CURSOR_LENGTH
from projections.interface import Page, Scope

WRITE_SETTLE_S = 5.0
MAX_WAIT_S = 60.0

MinPosition = Annotated[
    int | None,
    Query(ge=0, le=MAX_POSITION, description="Wait until the read models reflect this position"),
]
WaitS = Annotated[
    float, Query(ge=0, le=MAX_WAIT_S, description="How long to wait for min_position (s)")
]
Limit = Annotated[int, Query(ge=1, le=1000, description="Page size (max 1000)")]
Cursor = Annotated[
    str | None, Query(max_length=MAX_CURSOR_LENGTH, description="next_cursor of the previous page")
]


def await_position(services: Services, min_position: int | None, wait_s: float) -> int:
    """Block until the read models reach min_position; 503 projection_lagging on timeout.

    Returns the position the read will reflect at least.
    """
    read_models = services.read_models
    if min_position and min_position > services.ledger.current_position():
        # Not recorded yet: waiting would only hold a thread for nothing.
        raise ApiError(
            503,
            "projection_lagging",
            f"Position {min_position} has not been recorded yet (the log ends at "
            f"{services.ledger.current_position()}); pass a position a write returned.",
            min_position=min_position,
            position=read_models.position(),
            wait_s=wait_s,
        )
    if min_position and not read_models.wait_for(min_position, wait_s):
        raise ApiError(
            503,
            "projection_lagging",
            f"The read models have not reached position {min_position} after {wait_s:g} s "
            f"(they are at {read_models.position()}). Retry shortly.",
            min_position=min_position,
            position=read_models.position(),
            wait_s=wait_s,
        )
    return read_models.reflected()


def paged(call: Callable[[], Page], cursor: str | None, position: int) -> dict[str, Any]:
    """A list answer; the cursor is checked where it is parsed (projections/fmt.py)."""
    page = call()
    return {"items": page.items, "next_cursor": page.next_cursor, "position": position}


def paged_under(
    services: Services, rid: UUID, call: Callable[[], Page], cursor: str | None, position: int
) -> dict[str, Any]:
    """A page of something under registration `rid`: 404 for an unknown registration, looked
    up only when the page is empty (a non-empty page proves it exists: no extra query)."""
    out = paged(call, cursor, position)
    if not out["items"]:
        require_registration(services, rid)
    return out


# Rule 13's worker scope as a list filter: the rows api/auth.py keeps (and commits with the
# events that decide them) in api_token_registrations, read by its primary key (token_name,
# registration_id) - an index range scan the database joins, not the ids fetched and sent
# back (issue 16). Unqualified: the views' connections search the ledger's schema.
WORKER_SCOPE = "SELECT h.registration_id FROM api_token_registrations h WHERE h.token_name = ?"


def scope_of(principal: Principal) -> Scope | None:
    """What `principal` may list: a worker its holdings and grants, other roles everything."""
    return Scope(WORKER_SCOPE, (principal.name,)) if principal.role == "worker" else None


def read_response(body: dict[str, Any]) -> ORJSONResponse:
    """A read the read models built (a page, a registration, a session), written as it is.
    Their rows already hold the contract's types (RFC 3339 strings, ids as strings, every
    field the model names, in its order), so validating them again through the response
    model only cost time - a quarter of a 100-receipt page's (issue 16). The model still
    documents the endpoint; tests check the bodies byte for byte against what it wrote
    (tests/api/test_read_paths.py)."""
    return ORJSONResponse(body)


def registration_read(row: dict[str, Any], position: int) -> ORJSONResponse:
    """GET /v1/registrations/{rid} written as read. An idle worker status has no session:
    its `session_id` is the one field the model (which writes unset fields) adds, null."""
    status = row["status"]
    if "session_id" not in status:
        status = {
            **{k: v for k, v in status.items() if k != "next_scheduled_sync"},
            "session_id": None,
            "next_scheduled_sync": status["next_scheduled_sync"],
        }
    return read_response({**row, "status": status, "position": position})


def registration_row(services: Services, rid: UUID) -> dict[str, Any]:
    row = services.read_models.get_registration(rid)
    if row is None:
        raise _no_registration(rid)
    return row


def require_registration(services: Services, rid: UUID) -> None:
    """404 unless the views know `rid`: one key lookup, not the registration's whole read
    (its counts and worker status were most of a history page's time, issue 16)."""
    if not services.read_models.has_registration(rid):
        raise _no_registration(rid)


def _no_registration(rid: UUID) -> ApiError:
    return ApiError(404, "not_found", f"No registration with id {rid}.", registration_id=str(rid))


def settled(services: Services, position: int) -> bool:
    """After a write: give the read models a moment to reflect it."""
    return services.read_models.wait_for(position, WRITE_SETTLE_S)
