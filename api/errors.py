"""One error body for every failure: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import psycopg
from eventsourcing.persistence import PersistenceError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.responses import ORJSONResponse
from domain.errors import LedgerError
from domain.infra.outage import RETRY_AFTER_S, DatabaseFault, classify, describe

log = logging.getLogger("syncledger.api")

HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    501: "not_implemented",
    503: "projection_lagging",
}

# Exceptions that may be a fault of the database (down, unreachable, full): answered 503
# with Retry-After when `classify` recognises one, left to the 500 handler otherwise.
DATABASE_EXCEPTIONS: tuple[type[Exception], ...] = (
    DatabaseFault,
    psycopg.Error,
    sqlite3.Error,
    PersistenceError,
)

# How each domain error code is answered over HTTP (domain errors carry no status).
# A code missing here answers 409: a refused command that conflicts with the ledger's state.
DOMAIN_STATUS = {
    "not_found": 404,
    "validation_error": 422,
    "session_in_progress": 409,
    "session_not_in_progress": 409,
    "unsafe_deletion": 409,
    "already_deleted": 409,
    "not_undoable": 409,
    "request_not_pending": 409,
    "conflict": 409,
    "approval_not_pending": 409,
    "own_approval": 403,
    "registration_held": 409,
}


def status_of(error: LedgerError) -> int:
    """The HTTP status of a refused command."""
    return DOMAIN_STATUS.get(error.code, 409)


# Rule: a request body over 16 MiB is refused before it is read (api/guards.py).
MAX_BODY_BYTES = 16 * 1024 * 1024


def too_large_message(size: int | None = None) -> str:
    said = f" ({size} bytes)" if size is not None else ""
    return (
        f"The request body{said} is over the limit of {MAX_BODY_BYTES} bytes (16 MiB); "
        "nothing was recorded. Send smaller requests (a batch carries at most 10,000 records)."
    )


LIMIT_KEYS = ("max_length", "min_length", "le", "ge", "lt", "gt", "pattern", "expected")


class ApiError(Exception):
    """An error raised by the API layer itself (auth, lagging projections, 404s)."""

    def __init__(self, status: int, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> ORJSONResponse:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return ORJSONResponse(body, status_code=status, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out or "body"


def _jsonable(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def describe_validation(exc: RequestValidationError) -> tuple[str, dict[str, Any]]:
    errors = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            ctx = err.get("ctx") or {}
            message = (
                "The request body is not valid JSON"
                + (f" ({ctx.get('error')})" if ctx.get("error") else "")
                + ". Send a JSON object with Content-Type: application/json."
            )
            return message, {"field": "body", "errors": [{"field": "body", "message": message}]}
        field = _field(tuple(err.get("loc", ())))
        ctx = err.get("ctx") or {}
        item: dict[str, Any] = {"field": field, "message": err.get("msg", "invalid")}
        if err.get("type") == "extra_forbidden":
            item["message"] = "not a field of this request: check its spelling (see /docs)"
        item["type"] = err.get("type")
        for key in LIMIT_KEYS:
            if key in ctx:
                item[key] = _jsonable(ctx[key])
        if err.get("type") in ("too_long", "too_short") and "actual_length" in ctx:
            item["actual_length"] = ctx["actual_length"]
        errors.append(item)
    first = errors[0] if errors else {"field": "body", "message": "invalid request"}
    limits = ", ".join(f"{k} {first[k]}" for k in LIMIT_KEYS if k in first)
    message = f"{first['field']}: {first['message']}" + (f" (limit: {limits})" if limits else "")
    if len(errors) > 1:
        message += f" — and {len(errors) - 1} more problem(s), see details.errors"
    return message, {"field": first["field"], "errors": errors[:50]}


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(LedgerError)
    async def ledger_error(request: Request, exc: LedgerError) -> ORJSONResponse:
        return error_response(status_of(exc), exc.code, exc.message, exc.details)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> ORJSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return error_response(exc.status, exc.code, exc.message, exc.details, headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> ORJSONResponse:
        message, details = describe_validation(exc)
        return error_response(422, "validation_error", message, details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> ORJSONResponse:
        if exc.status_code == 413:  # a streamed body passed the limit (FastAPI max_body_size)
            details = {"max_bytes": MAX_BODY_BYTES}
            return error_response(413, "payload_too_large", too_large_message(), details)
        if exc.status_code == 400:
            # The framework could not read the body (JSON nested past the parser's depth, a
            # broken form): the client's input, answered with the contract's own code.
            return error_response(
                422,
                "validation_error",
                "The request body could not be read as JSON (nested too deeply, or "
                "malformed): send a JSON object with Content-Type: application/json.",
                {"field": "body"},
            )
        code = HTTP_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        if exc.status_code == 404 and message == "Not Found":
            message = f"No such endpoint: {request.method} {request.url.path}. See /docs."
        headers = dict(exc.headers) if exc.headers else None
        return error_response(exc.status_code, code, message, headers=headers)

    async def database_fault(request: Request, exc: Exception) -> Response:
        code = classify(exc)
        if code is None:
            raise exc
        kind = request.app.state.services.database.kind
        log.warning("database fault on %s %s: %s: %s", request.method, request.url.path, code, exc)
        headers = {"Retry-After": str(RETRY_AFTER_S)}
        message = describe(code, kind)
        if request.url.path.startswith("/console"):
            from api.console.auth import refusal

            page = refusal(request, "The ledger is unavailable", message, 503)
            page.headers.update(headers)
            return page
        details = {"database": kind, "retry_after_s": RETRY_AFTER_S}
        return error_response(503, code, message, details, headers)

    for exc_type in DATABASE_EXCEPTIONS:
        app.add_exception_handler(exc_type, database_fault)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> ORJSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(
            500,
            "internal_error",
            "The server failed to handle this request; nothing is known to be recorded "
            "beyond what a read shows. Retry, and report it with the correlation id if "
            "it persists.",
            {"correlation_id": request.scope.get("state", {}).get("correlation_id", "")},
        )
