"""The session aggregate: one run of a sync agent against a registration.

Keeps a summary (status, counts, batches seen) and, while in progress, a compact index of
the records it has accepted so re-sent records count as duplicates (rule 3). The records
themselves travel only in its `RecordsSynced` events, one per batch.

Its command methods own its invariants (rules 3, 4, 6, 8): a session refuses records,
errors and endings unless it is in progress and not removed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import SessionNotInProgress
from domain.values import Context, Record, emit, session_aggregate_id

# `seen` maps hash((entity_type, key)) -> hash(digest). It is in-memory only (never stored
# or snapshotted; rebuilt on replay), so Python's per-process hash is fine.


class Session(Aggregate):
    # Rule 15 (class-level defaults: sessions recorded before these existed load as well).
    # When a write other than the start last renewed the session (records, error, heartbeat).
    renewed_at: datetime | None = None
    # The last activity time of the stuck spell already flagged (one flag per spell).
    flagged_spell: datetime | None = None

    class Event(Aggregate.Event):
        class_version = 1
        actor: str
        correlation_id: str

    class Started(Aggregate.Created, Event):
        class_version = 1
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
        # Set while a reset in force hides this session that was in progress (finding 2:
        # the reset records it on the session too, so a batch racing the reset in another
        # process conflicts on this aggregate's version instead of being accepted).
        self.hidden_by_reset = False
        # Distinct (entity_type, key) accepted, by fingerprint (see `seen`).
        self.distinct_records = 0
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
        ctx: Context,
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
            actor=ctx.actor,
            correlation_id=ctx.correlation_id,
        )

    @property
    def in_progress(self) -> bool:
        return self.status == "in_progress"

    @property
    def started_at(self) -> datetime:
        return self.created_on

    @property
    def last_activity_at(self) -> datetime:
        """Rule 15: the last write that renewed this session (its start, at first)."""
        return self.renewed_at or self.created_on

    # --- command methods -----------------------------------------------------------

    def ensure_live(self, cutoff: int) -> None:
        """Rules 3 and 4: refuse unless in progress and not removed.

        `cutoff` is the registration's reset cutoff: sessions hidden by a reset recorded
        before `hidden_by_reset` existed are only known to be removed from it.
        """
        if self.deleted is not None:
            raise SessionNotInProgress(
                f"Session {self.session_id} was deleted by {self.deleted['by']}; it takes no "
                "more records. Start a new session.",
                session_id=self.session_id,
                status="deleted",
            )
        if self.hidden_by_reset or self.seq <= cutoff:
            raise SessionNotInProgress(
                f"Session {self.session_id} was removed when the registration was reset; it "
                "takes no more records. Start a new session.",
                session_id=self.session_id,
                status="reset",
            )
        if not self.in_progress:
            raise SessionNotInProgress(
                f"Session {self.session_id} is {self.status}; an ended session takes no more "
                "records. Start a new session.",
                session_id=self.session_id,
                status=self.status,
            )

    def record_batch(
        self, ctx: Context, records: list[Record], batch_id: str, *, cutoff: int
    ) -> tuple[int, int]:
        """Rule 3: accept the new or changed records; (accepted, duplicates)."""
        self.ensure_live(cutoff)
        accepted, duplicates = self.split_batch(records)
        emit(
            self,
            ctx,
            self.RecordsSynced,
            batch_id=batch_id,
            records=accepted,
            duplicates=duplicates,
        )
        return len(accepted), duplicates

    def record_error(
        self, ctx: Context, message: str, entity_type: str | None, key: str | None, *, cutoff: int
    ) -> None:
        self.ensure_live(cutoff)
        emit(self, ctx, self.ErrorRecorded, message=message, entity_type=entity_type, key=key)

    def end(self, ctx: Context, status: str, reason: str | None, *, cutoff: int) -> None:
        """Rule 4: complete or fail."""
        self.ensure_live(cutoff)
        if status == "completed":
            emit(self, ctx, self.Completed)
        else:
            emit(self, ctx, self.Failed, reason=reason)

    def delete(
        self,
        ctx: Context,
        *,
        reason: str,
        ticket: str | None,
        override: bool,
        failed_checks: list[str],
        undo_of: int | None,
        unsynced: int,
    ) -> None:
        """Rule 6: the deletion and its compensating unsync. The unsync event carries the
        count; the records are the session's own (paged from its RecordsSynced events,
        minus those a newer session superseded): an event stays small whatever the size."""
        emit(
            self,
            ctx,
            self.Deleted,
            reason=reason,
            ticket=ticket,
            override=override,
            failed_checks=failed_checks,
            undo_of=undo_of,
        )
        emit(
            self,
            ctx,
            self.ReceiptsUnsynced,
            registration_id=self.registration_id,
            session_id=self.session_id,
            receipts=unsynced,
            records=[],
        )

    def heartbeat(self, ctx: Context, *, cutoff: int) -> None:
        """Rule 15: an alive but idle agent renews its session."""
        self.ensure_live(cutoff)
        emit(self, ctx, self.Heartbeat)

    def flag_stuck(self, ctx: Context, *, stuck_after_minutes: int) -> bool:
        """Rule 15: record once per stuck spell that the ledger noticed it (the caller has
        decided it is stuck, domain/liveness.py). False when this spell is already flagged."""
        if self.flagged_spell == self.last_activity_at:
            return False
        emit(
            self,
            ctx,
            self.FlaggedStuck,
            since=self.last_activity_at,
            stuck_after_minutes=stuck_after_minutes,
            worker=self.worker,
        )
        return True

    def restore(self, ctx: Context, *, undo_of: int, reason: str, reopened: bool) -> None:
        emit(self, ctx, self.Restored, undo_of=undo_of, reason=reason, reopened=reopened)

    def hide_by_reset(self, ctx: Context, chain: str) -> None:
        emit(self, ctx, self.HiddenByReset, chain=chain)

    def reopen_after_reset(self, ctx: Context, chain: str) -> None:
        emit(self, ctx, self.ReopenedAfterReset, chain=chain)

    def split_batch(self, records: list[Record]) -> tuple[list[Record], int]:
        """Accepted records (new, or a changed digest) and the number of duplicates.

        Rule 12 guarantees no (entity_type, key) occurs twice in one batch.
        """
        seen = self.seen
        accepted: list[Record] = []
        for record in records:
            if seen.get(hash((record[0], record[1]))) == hash(record[2]):
                continue
            accepted.append(record)
        return accepted, len(records) - len(accepted)

    class RecordsSynced(Event):
        class_version = 1
        batch_id: str
        records: list[Record]
        duplicates: int

        def apply(self, s: Session) -> None:
            seen = s.seen
            before = len(seen)
            for entity_type, key, digest in self.records:
                seen[hash((entity_type, key))] = hash(digest)
            s.distinct_records += len(seen) - before
            s.records_synced += len(self.records)
            s.duplicates += self.duplicates
            s.batches[self.batch_id] = [len(self.records), self.duplicates]
            s.renewed_at = self.timestamp

    class ErrorRecorded(Event):
        class_version = 1
        message: str
        entity_type: str | None
        key: str | None

        def apply(self, s: Session) -> None:
            s.error_count += 1
            s.renewed_at = self.timestamp

    class Heartbeat(Event):
        """Rule 15: the agent is alive; nothing else changes."""

        class_version = 1

        def apply(self, s: Session) -> None:
            s.renewed_at = self.timestamp

    class FlaggedStuck(Event):
        """Rule 15 (SessionFlaggedStuck): the ledger noticed the session is stuck, with no
        activity since `since`. Recorded by the ledger itself (actor syncledger)."""

        class_version = 1
        since: datetime
        stuck_after_minutes: int
        worker: str

        def apply(self, s: Session) -> None:
            s.flagged_spell = self.since

    class Completed(Event):
        class_version = 1

        def apply(self, s: Session) -> None:
            s.status = "completed"
            s.ended_at = self.timestamp
            s.seen = {}

    class Failed(Event):
        class_version = 1
        reason: str

        def apply(self, s: Session) -> None:
            s.status = "failed"
            s.fail_reason = self.reason
            s.ended_at = self.timestamp
            s.seen = {}

    class Deleted(Event):
        """Rule 6: the session leaves the history (it stays on record, marked deleted)."""

        class_version = 1
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

        `receipts` is how many receipts it unsyncs: the session's records no newer session
        had superseded. `records` is empty from this version on (it once listed every
        record, which made one event per deletion grow with the session).
        """

        class_version = 1
        registration_id: str
        session_id: str
        receipts: int
        records: list[Record]

    class Restored(Event):
        """Rule 8: an undone deletion. The receipts come back unless since superseded."""

        class_version = 1
        undo_of: int
        reason: str
        reopened: bool

        def apply(self, s: Session) -> None:
            s.deleted = None
            s.last_change_version = self.originator_version

    class HiddenByReset(Event):
        """Companion of a reset that removed this session while it was in progress."""

        class_version = 1
        chain: str

        def apply(self, s: Session) -> None:
            s.hidden_by_reset = True

    class ReopenedAfterReset(Event):
        """Companion of an undone reset that gives this session back, in progress."""

        class_version = 1
        chain: str

        def apply(self, s: Session) -> None:
            s.hidden_by_reset = False
