"""`api.responses.typed` answers exactly what FastAPI's response_model path answered (issue 16).

Small writes return `typed(Model, body)` instead of a dict for FastAPI to validate, dump and
encode again. These tests hold the two to the same bytes: the model's validation, then
FastAPI's serialisation (dump to JSON-able Python, encoded by the app's ORJSONResponse)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from api.lifecycle_models import HeartbeatOut
from api.models import DeleteOut, ErrorRecorded, Registration, Session, SyncRequest
from api.responses import ORJSONResponse, typed


def fastapi_bytes(model: type[BaseModel], body: dict[str, Any], exclude_unset: bool) -> bytes:
    value = model.model_validate(body)
    dumped = value.model_dump(mode="json", by_alias=True, exclude_unset=exclude_unset)
    return bytes(ORJSONResponse(dumped).body)


text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
optional_text = st.none() | text


@settings(max_examples=150, deadline=None)
@given(message=text, entity_type=optional_text, key=optional_text, position=st.integers(0, 2**62))
def test_error_recorded_matches_fastapi(
    message: str, entity_type: str | None, key: str | None, position: int
) -> None:
    body = {
        "session_id": str(uuid.uuid4()),
        "message": message,
        "entity_type": entity_type,
        "key": key,
        "position": position,
    }
    assert bytes(typed(ErrorRecorded, body, 201).body) == fastapi_bytes(ErrorRecorded, body, False)


AT = "2026-11-23T17:00:00.123456Z"


@pytest.mark.parametrize(
    ("model", "body", "exclude_unset"),
    [
        (
            Session,
            {
                "id": str(uuid.uuid4()),
                "registration_id": str(uuid.uuid4()),
                "seq": 3,
                "sync_type": "time",
                "status": "in_progress",
                "started_at": AT,
                "ended_at": None,
                "records_synced": 0,
                "error_count": 1,
                "worker": "SRV-01 ☃",
                "entity_types": ["Client List", "日本"],
                "request_id": None,
                "stuck": False,
                "last_activity_at": AT,
                "fail_reason": None,
                "deletion_check": {"safe": False, "failed_checks": ["not_most_recent"]},
                "position": 7,
            },
            True,
        ),
        (
            Registration,
            {
                "id": str(uuid.uuid4()),
                "product": "accountlink",
                "file_id": "acme.qbw",
                "name": "acme.qbw",
                "sync_interval_minutes": 30,
                "stuck_after_minutes": 120,
                "created_at": AT,
                "auto_remove_stuck_after_minutes": None,
                "approvals_required": False,
                "position": 1,
                "total_syncs": 0,
                "sessions_in_progress": 0,
                "stuck_sessions": 0,
                "receipts": 0,
                "last_updated": AT,
            },
            True,
        ),
        (DeleteOut, {"deleted": True, "unsynced": 2, "position": 9}, True),
        (
            SyncRequest,
            {
                "id": str(uuid.uuid4()),
                "kind": "full",
                "status": "pending",
                "requested_by": None,
                "position": 4,
            },
            False,
        ),
        (HeartbeatOut, {"last_activity_at": AT, "position": 5}, False),
    ],
)
def test_write_answers_match_fastapi(
    model: type[BaseModel], body: dict[str, Any], exclude_unset: bool
) -> None:
    answer = typed(model, body, 201, exclude_unset=exclude_unset)
    assert answer.status_code == 201
    assert answer.media_type == "application/json"
    assert bytes(answer.body) == fastapi_bytes(model, body, exclude_unset)
    assert orjson.loads(answer.body)["position"] == body["position"]


def test_a_body_outside_the_contract_is_refused_as_before() -> None:
    with pytest.raises(ValidationError):
        typed(DeleteOut, {"deleted": "maybe", "position": "x"})


def test_datetimes_are_written_as_fastapi_writes_them() -> None:
    at = datetime(2026, 11, 23, 17, 0, 0, 123456, tzinfo=UTC)
    body = {"last_activity_at": at.isoformat(), "position": 1}
    assert bytes(typed(HeartbeatOut, body).body) == fastapi_bytes(HeartbeatOut, body, False)
