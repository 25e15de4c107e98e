"""The session aggregate: one run of a sync agent against a registration.

Keeps a summary (status, counts, batches seen) and, while in progress, a compact index of
the records it has accepted so re-sent records count as duplicates (rule 3). The records
themselves travel only in its `RecordsSynced` events, one per batch.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.values import Record, session_aggregate_id

# `seen` maps hash((entity_type, key)) -> hash(digest). It is in-memory only (never stored
# or snapshotted; rebuilt on replay), so Python's per-process hash is fine.


class Session(Aggregate):
    class Event(Aggregate.Event):
        actor: str
        correlation_id: str

    class Started(Aggregate.Created, Event):
        registration_id: str
        session_id: str
        seq: int
        sync_type: str
        worker: str
        entity_types: list[str]
        request_id: str | None

    def __init__(
        self,
        registration_id: str,
        session_id: str,
        seq: int,
        sync_type: str,
        worker: str,
        entity_types: list[str],
        request_id: str | None,
    ) -> None:
        self.registration_id = registration_id
        self.session_id = session_id
        self.seq = seq
        self.sync_type = sync_type
        self.worker = worker
        self.entity_types = entity_types
        self.request_id = request_id
        self.status = "in_progress"
        self.ended_at: datetime | None = None
        self.fail_reason: str | None = None
        self.records_synced = 0
        self.duplicates = 0
        self.error_count = 0
        self.batches: dict[str, list[int]] = {}
        self.seen: dict[int, int] = {}
        self.deleted: dict[str, Any] | None = None
        # Version of the latest deletion or restoration: the only one undo may act on.
        self.last_change_version: int | None = None

    @classmethod
    def start(
        cls,
        *,
        registration: UUID,
        session_id: str,
        seq: int,
        sync_type: str,
        worker: str,
        entity_types: list[str],
        request_id: str | None,
        actor: str,
        correlation_id: str,
    ) -> Session:
        return cls._create(
            cls.Started,
            id=session_aggregate_id(registration, session_id),
            registration_id=str(registration),
            session_id=session_id,
            seq=seq,
            sync_type=sync_type,
            worker=worker,
            entity_types=entity_types,
            request_id=request_id,
            actor=actor,
            correlation_id=correlation_id,
        )

    @property
    def in_progress(self) -> bool:
        return self.status == "in_progress"

    @property
    def started_at(self) -> datetime:
        return self.created_on

    def split_batch(self, records: list[Record]) -> tuple[list[Record], int]:
        """Accepted records (new, or a changed digest) and the number of duplicates."""
        seen = self.seen
        in_batch: dict[int, int] = {}
        accepted: list[Record] = []
        for record in records:
            fingerprint = hash((record[0], record[1]))
            digest_hash = hash(record[2])
            known = in_batch.get(fingerprint)
            if known is None:
                known = seen.get(fingerprint)
            if known == digest_hash:
                continue
            in_batch[fingerprint] = digest_hash
            accepted.append(record)
        return accepted, len(records) - len(accepted)

    class RecordsSynced(Event):
        batch_id: str
        records: list[Record]
        duplicates: int

        def apply(self, s: Session) -> None:
            seen = s.seen
            for entity_type, key, digest in self.records:
                seen[hash((entity_type, key))] = hash(digest)
            s.records_synced += len(self.records)
            s.duplicates += self.duplicates
            s.batches[self.batch_id] = [len(self.records), self.duplicates]

    class ErrorRecorded(Event):
        message: str
        entity_type: str | None
        key: str | None

        def apply(self, s: Session) -> None:
            s.error_count += 1

    class Completed(Event):
        def apply(self, s: Session) -> None:
            s.status = "completed"
            s.ended_at = self.timestamp
            s.seen = {}

    class Failed(Event):
        reason: str

        def apply(self, s: Session) -> None:
            s.status = "failed"
            s.fail_reason = self.reason
            s.ended_at = self.timestamp
            s.seen = {}

    class Deleted(Event):
        """Rule 6: the session leaves the history (it stays on record, marked deleted)."""

        reason: str
        ticket: str | None
        override: bool
        failed_checks: list[str]
        undo_of: int | None

        def apply(self, s: Session) -> None:
            s.deleted = {
                "by": self.actor,
                "at": self.timestamp,
                "reason": self.reason,
                "ticket": self.ticket,
                "override": self.override,
                "version": self.originator_version,
            }
            s.last_change_version = self.originator_version

    class ReceiptsUnsynced(Event):
        """The compensating unsync of a deletion: every receipt from this session goes.

        Readable on its own: the session, how many records, and each record removed.
        """

        registration_id: str
        session_id: str
        receipts: int
        records: list[Record]

    class Restored(Event):
        """Rule 8: an undone deletion. The receipts come back unless since superseded."""

        undo_of: int
        reason: str
        reopened: bool

        def apply(self, s: Session) -> None:
            s.deleted = None
            s.last_change_version = self.originator_version
