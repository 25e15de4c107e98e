"""The typed contract's building blocks: the one error body, `errors(...)`, operation ids.

Every endpoint documents its failures with the same schema the handlers in api/errors.py
send, so a generated client parses a 409 into `ErrorBody` like any other answer:

    @router.post(
        "/{rid}/grants",
        operation_id="create_grant",
        response_model=GrantOut,
        responses=errors(401, 403, 404, 422, 503),
    )

`errors()` takes status codes, or `(status, "what this operation means by it")` pairs for
the codes an operation gives a specific meaning (e.g. a 409 and its error codes).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi.routing import APIRoute
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from projections.fmt import iso


class ErrorDetail(BaseModel):
    code: str = Field(description="snake_case, stable: branch on this, not on the message")
    message: str = Field(description="A sentence a person can act on")
    details: dict[str, Any] = Field(
        default_factory=dict, description="What the code is about (field, ids, limits…)"
    )


class ErrorBody(BaseModel):
    """Every error: `{"error": {"code", "message", "details"}}`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": "not_found",
                        "message": "No registration with id 6f1c…",
                        "details": {"registration_id": "6f1c…"},
                    }
                }
            ]
        }
    )
    error: ErrorDetail


# What each status means across the API; an operation may say more with (status, text).
STATUS_TEXT: dict[int, tuple[str, str]] = {
    401: ("unauthenticated", "No bearer token, or an unknown or revoked one."),
    403: ("forbidden", "The token's role may not do this."),
    404: (
        "not_found",
        "No such registration, session or entry (for a worker: also one it neither holds "
        "nor was granted, rule 13).",
    ),
    409: ("conflict", "The ledger's state does not allow this now."),
    413: ("payload_too_large", "The request body is over the size limit."),
    422: ("validation_error", "The request is not valid: details.field names what to fix."),
    503: (
        "projection_lagging",
        "projection_lagging (the read models did not reach min_position in wait_s), "
        "database_unavailable or storage_full; retry after Retry-After.",
    ),
}


def _example(status: int, code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": {}}}


def errors(*statuses: int | tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: each status documented with the shared error body."""
    out: dict[int | str, dict[str, Any]] = {}
    for entry in statuses:
        status, text = entry if isinstance(entry, tuple) else (entry, STATUS_TEXT[entry][1])
        code = STATUS_TEXT.get(status, ("error", ""))[0]
        if isinstance(entry, tuple) and ":" in text:
            # "(409, 'session_in_progress: …')": the operation's own code leads its example.
            code = text.split(":", 1)[0].split(",")[0].strip()
        out[status] = {
            "model": ErrorBody,
            "description": text,
            "content": {"application/json": {"example": _example(status, code, text)}},
        }
    return out


# The errors every authenticated operation can answer (auth, bad input, database trouble).
AUTH = (401, 403, 422, 503)


def operation_id(route: APIRoute) -> str:
    """Short ids (`register`, `start_session`): the handler's name, unique across the API."""
    return route.name


def _to_iso(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(int(value.timestamp() * 1_000_000))
    return value


# An RFC 3339 UTC time as the read models write it (e.g. 2024-08-05T09:30:00.000000Z); a
# datetime (from the Ledger, before the read models caught up) is written the same way.
Timestamp = Annotated[
    str,
    BeforeValidator(_to_iso),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
