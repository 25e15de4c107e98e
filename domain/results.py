"""What the Ledger's commands and queries return (plain immutable values)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from domain.policy import DeletionCheck
from domain.session import Session
from domain.values import Record


@dataclass(frozen=True)
class Registered:
    registration_id: UUID
    created: bool
    position: int


@dataclass(frozen=True)
class SessionStarted:
    session_id: str
    created: bool
    position: int


@dataclass(frozen=True)
class SessionState:
    """A session (a shallow copy) with the rules' verdicts on it at one instant."""

    session: Session
    stuck: bool
    check: DeletionCheck


@dataclass(frozen=True)
class BatchRecorded:
    accepted: int
    duplicates: int
    records_synced: int
    position: int


@dataclass(frozen=True)
class DeletionPreview:
    """A dry run: exactly what the deletion would do now (rule 19).

    `would_unsync` is the number of receipts the deletion would unsync; `records` the first
    of those records (newest digest each), in first-sync order.
    """

    check: DeletionCheck
    would_unsync: int
    records: list[Record]


@dataclass(frozen=True)
class SessionDeleted:
    unsynced: int
    position: int


@dataclass(frozen=True)
class RegistrationReset:
    sessions_up_to_seq: int
    receipts: int | None
    position: int


@dataclass(frozen=True)
class Undone:
    undone: int
    kind: str
    registration_id: UUID
    session_id: str | None
    position: int


@dataclass(frozen=True)
class SyncRequest:
    request_id: str
    kind: str
    position: int
    created: bool = True
