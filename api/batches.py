"""The records endpoint's body: orjson + the domain's own checks, pydantic only to explain.

A 1,000-record batch through pydantic (1,000 nested models, three constrained strings each)
plus the standard-library JSON decoder cost more than the append itself. The fast path parses
with orjson and builds the `(entity_type, key, digest)` tuples the Ledger takes; the domain's
`validation.records` then enforces 1..10,000 records and every length. Anything the fast path
does not accept outright (bad JSON, a wrong shape, a limit broken, a NUL character) is handed
to `BatchIn`, so a refusal carries exactly the 422 body the pydantic path always gave.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from api.schemas import BatchIn
from domain import validation
from domain.errors import ValidationFailed
from domain.values import MAX_KEY_LENGTH, Record

_NUL = b"\\u0000"
_BODY_FIELDS = frozenset(BatchIn.model_fields)


def parse_batch(raw: bytes) -> tuple[list[Record], str | None]:
    """The records and batch_id of a request body, or RequestValidationError /
    ValidationFailed (both 422 validation_error)."""
    if raw and _NUL not in raw:
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            data = None
        fast = _fast(data) if type(data) is dict else None
        if fast is not None:
            return fast
    return _explained(raw)


def _fast(data: dict[str, Any]) -> tuple[list[Record], str | None] | None:
    records = data.get("records")
    batch_id = data.get("batch_id")
    if (
        type(records) is not list
        or not data.keys() <= _BODY_FIELDS
        or not (batch_id is None or (type(batch_id) is str and batch_id.isascii()))
        or (batch_id is not None and validation.text_problem(batch_id, MAX_KEY_LENGTH))
    ):
        return None
    try:
        rows = [(r["entity_type"], r["key"], r["digest"]) for r in records if len(r) == 3]
    except (TypeError, KeyError, IndexError):
        return None
    if len(rows) != len(records):  # a record with a field of its own: BatchIn names it
        return None
    try:
        return validation.records(rows), batch_id
    except ValidationFailed:
        return None


def _explained(raw: bytes) -> tuple[list[Record], str | None]:
    """The pydantic path, as FastAPI itself would have run it (stdlib JSON, then BatchIn)."""
    if not raw:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        )
    try:
        data = json.loads(raw)
    except RecursionError:
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body",),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": "nested too deeply"},
                }
            ]
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        pos = getattr(exc, "pos", getattr(exc, "start", 0))
        msg = getattr(exc, "msg", None) or str(exc)
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body", pos),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": msg},
                }
            ]
        ) from None
    try:
        body = BatchIn.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from None
    # The domain's own batch check too (rule 12's repeats), as on the fast path.
    return validation.records([(r.entity_type, r.key, r.digest) for r in body.records]), (
        body.batch_id
    )


def openapi_body() -> dict[str, Any]:
    """`openapi_extra` for the records endpoint: the documented BatchIn request body."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BatchIn"}}},
        }
    }


SCHEMA_ONLY_MODELS = (BatchIn,)
