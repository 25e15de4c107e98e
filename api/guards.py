"""Refusals decided from a request's headers alone, before its body is read.

X-Correlation-ID, stamped on every event a request records (rule 11) and returned on the
response, is taken from the request (one is made when none is sent); one outside the charset
or length is refused (422 `validation_error`), never silently replaced.

A body over MAX_BODY_BYTES announced by Content-Length is refused (413 `payload_too_large`)
before a byte of it is read; a body sent without a length (chunked) is counted as it streams
and refused once past the limit (answered by api/errors.py). A body sent to /v1 that does
not say it is JSON is refused (422 `validation_error`) on every endpoint alike, the
hand-parsed records batch (api/batches.py) included.
"""

from __future__ import annotations

import re
import uuid

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import MAX_BODY_BYTES, error_response, too_large_message
from api.responses import ORJSONResponse

_CORRELATION_OK = re.compile(r"^[A-Za-z0-9._:/@+=-]{1,128}$")
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class RequestGuard:
    """Correlation id, body size and media type, from the headers (see the docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        sent = headers.get("x-correlation-id")
        value = sent if sent is not None and _CORRELATION_OK.match(sent) else str(uuid.uuid4())
        scope.setdefault("state", {})["correlation_id"] = value
        header = (b"x-correlation-id", value.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        refusal = _refusal(headers, sent, value, str(scope.get("method")), str(scope["path"]))
        if refusal is not None:
            await refusal(scope, receive, send_with_id)
            return
        counted = 0

        async def receive_counted() -> Message:
            nonlocal counted
            message = await receive()
            if message["type"] == "http.request":
                counted += len(message.get("body", b""))
                if counted > MAX_BODY_BYTES:
                    # Answered as 413 payload_too_large by api/errors.py (the framework
                    # passes an HTTPException raised while it reads the body through).
                    raise HTTPException(413)
            return message

        await self.app(scope, receive_counted, send_with_id)


def _refusal(
    headers: Headers, sent: str | None, value: str, method: str, path: str
) -> ORJSONResponse | None:
    """The answer to a request refused from its headers alone, or None."""
    if sent is not None and value != sent:
        # Refused, not replaced: a client that sent an id expects to find it on the events.
        return error_response(
            422,
            "validation_error",
            "X-Correlation-ID must be 1 to 128 characters: letters, digits and . _ : / @ "
            "+ = - (nothing was recorded). Send another id or none.",
            {"field": "X-Correlation-ID", "pattern": _CORRELATION_OK.pattern},
        )
    length = _content_length(headers)
    if length is not None and length > MAX_BODY_BYTES:
        return error_response(
            413,
            "payload_too_large",
            too_large_message(length),
            {"max_bytes": MAX_BODY_BYTES, "content_length": length},
        )
    has_body = bool(length) or "chunked" in headers.get("transfer-encoding", "").lower()
    if (
        has_body
        and method in _WRITES
        and path.startswith("/v1/")
        and not is_json(headers.get("content-type", ""))
    ):
        said = headers.get("content-type") or "none"
        return error_response(
            422,
            "validation_error",
            "The request body must be JSON: send it with Content-Type: application/json "
            f"(this one says {said[:100]!r}); nothing was recorded.",
            {"field": "Content-Type", "expected": "application/json"},
        )
    return None


def _content_length(headers: Headers) -> int | None:
    raw = headers.get("content-length")
    if raw is None:
        return None
    raw = raw.strip()
    # A malformed length is the server's (uvicorn's, h11's) to refuse; a huge one is ours.
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 30 else None
