"""Response models of the event log and the audit trail (split from api/models.py, which
holds the shared bases and the ledger's own resources)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import Field

from api.models import RID, SID, Listed, Out, Written, _examples
from api.openapi import Timestamp


class Event(Out):
    position: int
    aggregate_id: UUID | None = None
    version: int
    type: str = Field(examples=["Session.Started"])
    timestamp: Timestamp
    actor: str
    correlation_id: str | None = None
    data: dict[str, Any]


class EventList(Listed):
    items: list[Event]


class AuditEntry(Out):
    position: int
    type: str = Field(
        description="session_deleted, registration_reset, deletion_undone, reset_undone, "
        "approval_requested/approved/rejected/expired, access_granted, access_revoked"
    )
    registration_id: UUID
    session_id: UUID | None = None
    actor: str
    at: Timestamp
    reason: str | None = None
    ticket: str | None = None
    override: bool | None = None
    unsynced: int | None = None
    receipts_restored: int | None = None
    receipts_skipped: int | None = None
    undo_of: int | None = None
    undone_by: int | None = None
    token_name: str | None = Field(None, description="access_granted/revoked: the worker token")


class AuditList(Listed):
    items: list[AuditEntry]


class UndoOut(Written):
    model_config = _examples(
        {
            "undone": 9,
            "kind": "deletion",
            "registration_id": RID,
            "session_id": SID,
            "receipts_restored": 2,
            "receipts_skipped": 0,
            "position": 11,
        }
    )
    undone: int = Field(description="Position of the deletion or reset undone")
    kind: str | None = None
    registration_id: UUID | None = None
    session_id: UUID | None = None
    receipts_restored: int
    receipts_skipped: int
