"""Response bodies: what each endpoint answers, as named schemas a generated client types.

Every model accepts fields it does not name (`extra="allow"`): a feature may add a field to
an answer before its model names it, and a client keeps working (it sees it in
`additional_properties`). Times are RFC 3339 UTC strings (`Timestamp`), ids UUIDs.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.openapi import Timestamp

RID = "6f1c2b0e-8a51-5d3c-9a0e-3f5b1c2d4e6f"
SID = "0b7e4a9c-1d2f-4e3a-8b5c-6d7e8f9a0b1c"
AT = "2024-08-05T09:30:00.000000Z"


class Out(BaseModel):
    model_config = ConfigDict(extra="allow")


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(extra="allow", json_schema_extra={"examples": list(examples)})


class Written(Out):
    position: int = Field(description="Global position of the last event this write recorded")


class Listed(Out):
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null: done")
    position: int = Field(description="The log position this read reflects")


# --- health ----------------------------------------------------------------------------------


class ProjectionHealth(Out):
    position: int
    lag: int


class Health(Out):
    status: str = Field(examples=["ok"])
    database: str = Field(description='"sqlite" or "postgresql"')
    projections: dict[str, ProjectionHealth]


# --- registrations ---------------------------------------------------------------------------


class WorkerStatus(Out):
    """Rule 10: what the worker is doing, in the OneClick article's words."""

    state: str = Field(
        description='"in_progress", "stuck" (rule 10: never reported as in progress) or "idle"'
    )
    message: str = Field(examples=["Synchronisation is currently in progress on SRV-01"])
    worker: str | None = None
    since: Timestamp | None = None
    session_id: UUID | None = None
    next_scheduled_sync: Timestamp | None = None


class RegistrationSummary(Out):
    id: UUID
    product: str
    file_id: str
    name: str | None = None
    total_syncs: int = 0
    last_updated: Timestamp | None = None
    sessions_in_progress: int = 0
    stuck_sessions: int = 0
    receipts: int = 0
    sync_interval_minutes: int
    stuck_after_minutes: int
    created_at: Timestamp | None = None
    auto_remove_stuck_after_minutes: int | None = Field(
        None, description="Self-healing (rule 16); null: off"
    )
    approvals_required: bool = Field(False, description="Four-eyes (rule 17)")


class Registration(RegistrationSummary):
    model_config = _examples(
        {
            "id": RID,
            "product": "accountlink-quickbooks",
            "file_id": "acme.qbw",
            "name": "acme.qbw",
            "total_syncs": 0,
            "last_updated": AT,
            "sessions_in_progress": 0,
            "stuck_sessions": 0,
            "receipts": 0,
            "sync_interval_minutes": 30,
            "stuck_after_minutes": 120,
            "created_at": AT,
            "status": {
                "state": "idle",
                "message": "Next scheduled sync at 2024-08-05 10:00 UTC",
                "worker": None,
                "since": None,
                "next_scheduled_sync": "2024-08-05T10:00:00.000000Z",
            },
            "position": 1,
        }
    )
    status: WorkerStatus | None = Field(None, description="Absent right after a first write")
    position: int


class RegistrationList(Listed):
    items: list[RegistrationSummary]


class ResetOut(Written):
    unsynced: int = Field(description="Receipts the reset unsynced")


# --- sessions --------------------------------------------------------------------------------


class Deleted(Out):
    by: str
    at: Timestamp
    reason: str
    ticket: str | None = None
    override: bool = False
    position: int


class RemovedByReset(Out):
    position: int
    by: str
    at: Timestamp
    reason: str


class Restored(Out):
    by: str
    at: Timestamp
    reason: str
    position: int


class SessionSummary(Out):
    id: UUID
    registration_id: UUID | None = None
    seq: int
    sync_type: str
    status: str = Field(description='"in_progress", "completed" or "failed"')
    started_at: Timestamp
    ended_at: Timestamp | None = None
    records_synced: int
    error_count: int
    worker: str | None = None
    entity_types: list[str] = Field(default_factory=list)
    request_id: UUID | None = None
    stuck: bool = Field(
        False, description="In progress and not renewed for the registration's stuck_after"
    )
    last_activity_at: Timestamp | None = None
    fail_reason: str | None = None
    deleted: Deleted | None = None
    removed_by_reset: RemovedByReset | None = None
    restored: Restored | None = None


class SessionError(Out):
    message: str
    entity_type: str | None = None
    key: str | None = None
    at: Timestamp | None = None


class DeletionCheck(Out):
    """Rule 5: a session is safe to delete only when every check passes."""

    safe: bool
    failed_checks: list[str] = Field(
        description="has_records, not_in_progress, not_most_recent (see docs/design.md)"
    )


class Session(SessionSummary):
    model_config = _examples(
        {
            "id": SID,
            "registration_id": RID,
            "seq": 1,
            "sync_type": "time",
            "status": "in_progress",
            "started_at": AT,
            "ended_at": None,
            "records_synced": 0,
            "error_count": 0,
            "worker": "SRV-01",
            "entity_types": ["invoice"],
            "request_id": None,
            "stuck": False,
            "last_activity_at": AT,
            "fail_reason": None,
            "deleted": None,
            "removed_by_reset": None,
            "restored": None,
            "errors": [],
            "deletion_check": {"safe": False, "failed_checks": ["not_most_recent"]},
            "position": 3,
        }
    )
    errors: list[SessionError] = Field(default_factory=list)
    deletion_check: DeletionCheck | None = None
    position: int


class SessionList(Listed):
    items: list[SessionSummary]


class BatchOut(Written):
    """What a records batch answers (the endpoint writes it with orjson, for speed)."""

    model_config = _examples({"accepted": 2, "duplicates": 0, "records_synced": 2, "position": 4})
    accepted: int = Field(description="Records new to this session")
    duplicates: int = Field(description="Records this session already had (ignored)")
    records_synced: int = Field(description="The session's total so far")


class ErrorRecorded(Written):
    session_id: UUID
    message: str
    entity_type: str | None = None
    key: str | None = None


class SessionRecord(Out):
    entity_type: str
    key: str
    digest: str
    synced_at: Timestamp | None = None
    receipt_current: bool = Field(description="Is this session's the record's current receipt?")
    position: int | None = Field(
        None, description="Position of the event that recorded it (proof: …/records/proof)"
    )


class SessionRecordList(Listed):
    items: list[SessionRecord]


class RecordRef(Out):
    entity_type: str
    key: str
    digest: str


class DeleteOut(Out):
    """A deletion (`deleted: true`, `unsynced`) or its dry run (`deleted: false`,
    `would_unsync`, the first records and the deletion check; nothing recorded)."""

    model_config = _examples(
        {"deleted": True, "unsynced": 2, "position": 9},
        {
            "deleted": False,
            "would_unsync": 2,
            "records": [{"entity_type": "invoice", "key": "INV-1", "digest": "sha256:…"}],
            "deletion_check": {"safe": True, "failed_checks": []},
            "position": 8,
        },
    )
    deleted: bool
    position: int
    unsynced: int | None = Field(None, description="Deletion: receipts unsynced")
    would_unsync: int | None = Field(None, description="Dry run: receipts it would unsync")
    records: list[RecordRef] | None = Field(None, description="Dry run: the first 100")
    deletion_check: DeletionCheck | None = Field(None, description="Dry run: rule 5's checks")


# --- receipts --------------------------------------------------------------------------------


class Receipt(Out):
    entity_type: str
    key: str
    digest: str
    session_id: UUID
    synced_at: Timestamp | None = None
    position: int | None = Field(
        None, description="Position of the event that recorded it (proof: …/receipts/proof)"
    )


class ReceiptList(Listed):
    items: list[Receipt]


class RecordKey(Out):
    entity_type: str
    key: str


class DiffOut(Out):
    model_config = _examples(
        {
            "missing": [{"entity_type": "invoice", "key": "INV-3"}],
            "changed": [{"entity_type": "invoice", "key": "INV-1"}],
            "unchanged": 1,
            "position": 7,
        }
    )
    missing: list[RecordKey] = Field(description="No current receipt: sync these")
    changed: list[RecordKey] = Field(description="Receipt with another digest: sync these")
    unchanged: int
    position: int


# --- sync requests ---------------------------------------------------------------------------


class SyncRequest(Out):
    model_config = _examples(
        {
            "id": "3a1b…",
            "kind": "full",
            "status": "pending",
            "requested_by": "support-alice",
            "position": 8,
        }
    )
    id: UUID
    kind: str = Field(description='"periodic" or "full"')
    status: str = Field(description='"pending", "fulfilled" or "cancelled"')
    requested_by: str | None = None
    requested_at: Timestamp | None = None
    fulfilled_by_session: UUID | None = None
    fulfilled_at: Timestamp | None = None
    cancelled_by: str | None = None
    cancelled_at: Timestamp | None = None
    cancel_reason: str | None = None
    position: int | None = Field(None, description="On a write: its position")


class SyncRequestList(Listed):
    items: list[SyncRequest]
