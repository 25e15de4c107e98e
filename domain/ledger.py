"""The Ledger application service: one method per command.

Each command loads the aggregates it needs, applies the rules, saves the new events in
one transaction and returns the global position of the last event recorded. Two writers
racing on one aggregate: the loser's save raises IntegrityError; the command is re-run on
fresh state, a bounded number of times, so no acknowledged write is lost or doubled.
"""

from __future__ import annotations

import copy
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar, cast
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import EnvType

from domain import validation as v
from domain.errors import (
    AlreadyDeleted,
    Conflict,
    NotFound,
    NotUndoable,
    SessionInProgress,
    SessionNotInProgress,
    UnsafeDeletion,
    ValidationFailed,
)
from domain.infra.database import Database
from domain.infra.locks import schema_setup_lock
from domain.policy import DeletionCheck, deletion_check
from domain.registration import Registration
from domain.session import Session
from domain.values import Context, Record, registration_id, session_aggregate_id

T = TypeVar("T")
MAX_ATTEMPTS = 8
LOCK_STRIPES = 64

ReceiptCounter = Callable[[UUID], int]


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
class BatchRecorded:
    accepted: int
    duplicates: int
    records_synced: int
    position: int


@dataclass(frozen=True)
class DeletionPreview:
    check: DeletionCheck
    records: list[Record]

    @property
    def would_unsync(self) -> int:
        return len(self.records)


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


@dataclass
class _Pending:
    aggregates: list[Aggregate] = field(default_factory=list)


class Ledger(Application[UUID]):
    name = "syncledger"
    snapshotting_intervals = {Registration: 50}
    env = {
        "AGGREGATE_CACHE_MAXSIZE": "2000",
        "DEEPCOPY_FROM_AGGREGATE_CACHE": "n",
    }

    def __init__(
        self,
        env: EnvType | None = None,
        *,
        database: Database | None = None,
        receipt_counter: ReceiptCounter | None = None,
    ) -> None:
        merged: dict[str, str] = {}
        if database is not None:
            merged.update(database.eventsourcing_env())
        merged.update(env or {})
        self.database = database
        self.receipt_counter = receipt_counter
        self._locks = [threading.RLock() for _ in range(LOCK_STRIPES)]
        self._listeners: list[Callable[[int], None]] = []
        self._loaded = threading.local()
        with schema_setup_lock(database):
            super().__init__(merged)

    # --- plumbing ----------------------------------------------------------------------

    def on_saved(self, listener: Callable[[int], None]) -> None:
        """Call `listener(position)` after each save (wakes SQLite projection loops)."""
        self._listeners.append(listener)

    def current_position(self) -> int:
        return self.recorder.max_notification_id() or 0

    def _lock(self, rid: UUID) -> threading.RLock:
        return self._locks[rid.int % LOCK_STRIPES]

    def _evict(self, ids: Iterable[UUID]) -> None:
        cache = self.repository.cache
        if cache is None:
            return
        for aggregate_id in ids:
            try:
                cache.get(aggregate_id, evict=True)
            except KeyError:
                pass

    def _run(self, rid: UUID, command: Callable[[_Pending], T]) -> T:
        """Run `command` under the registration's lock, retrying on concurrent writes.

        The command adds the aggregates it changed to `pending`; they are saved in one
        transaction. On any failure the cached copies are evicted, so a refused command
        never leaves half-applied state behind.
        """
        for attempt in range(MAX_ATTEMPTS):
            pending = _Pending()
            with self._lock(rid):
                self._loaded.ids = loaded = [rid]
                try:
                    result = command(pending)
                    if pending.aggregates:
                        recordings = self.save(*pending.aggregates)
                        position = recordings[-1].notification.id
                        result = _with_position(result, position)
                        for listener in self._listeners:
                            listener(position)
                    return result
                except IntegrityError:
                    self._evict(loaded)
                except BaseException:
                    self._evict(loaded)
                    raise
                finally:
                    self._loaded.ids = None
            time.sleep(random.uniform(0, 0.005 * (2**attempt)))
        raise Conflict(
            "Too many concurrent writes to this registration; nothing was recorded. "
            "Retry the request."
        )

    def _load(self, aggregate_id: UUID) -> Any:
        """Load through the cache, noting the id so a failed command can evict it."""
        loaded = getattr(self._loaded, "ids", None)
        if loaded is not None:
            loaded.append(aggregate_id)
        return self.repository.get(aggregate_id)

    def _registration(self, rid: UUID) -> Registration:
        try:
            return cast(Registration, self._load(rid))
        except AggregateNotFoundError:
            raise NotFound(f"No registration with id {rid}.", registration_id=str(rid)) from None

    def _session(self, rid: UUID, session_id: str) -> Session:
        try:
            return cast(Session, self._load(session_aggregate_id(rid, session_id)))
        except AggregateNotFoundError:
            raise NotFound(
                f"No session {session_id} in registration {rid}.",
                registration_id=str(rid),
                session_id=session_id,
            ) from None

    def _session_or_none(self, rid: UUID, session_id: str) -> Session | None:
        try:
            return cast(Session, self._load(session_aggregate_id(rid, session_id)))
        except AggregateNotFoundError:
            return None

    # --- queries the commands need ----------------------------------------------------

    # Cached aggregates are shared (no deep copies, for speed): queries read them under the
    # registration's lock and hand out shallow copies.

    def get_registration(self, rid: UUID) -> Registration:
        with self._lock(rid):
            return copy.copy(self._registration(rid))

    def get_session(self, rid: UUID, session_id: str) -> Session:
        with self._lock(rid):
            return copy.copy(self._session(rid, session_id))

    def is_removed(self, reg: Registration, session: Session) -> bool:
        return session.deleted is not None or session.seq <= reg.reset_cutoff

    def check_deletion(self, rid: UUID, session_id: str) -> DeletionCheck:
        with self._lock(rid):
            reg = self._registration(rid)
            session = self._session(rid, session_id)
            return self._deletion_check(reg, session)

    @staticmethod
    def _deletion_check(reg: Registration, session: Session) -> DeletionCheck:
        return deletion_check(
            records_synced=session.records_synced,
            status=session.status,
            is_most_recent=reg.is_most_recent(session.session_id, session.sync_type),
        )

    def session_records(self, rid: UUID, session_id: str) -> list[Record]:
        """The records a session synced, newest digest per record, in first-sync order."""
        latest: dict[tuple[str, str], str] = {}
        for event in self.events.get(session_aggregate_id(rid, session_id)):
            if isinstance(event, Session.RecordsSynced):
                for entity_type, key, digest in event.records:
                    latest[(entity_type, key)] = digest
        return [(et, key, digest) for (et, key), digest in latest.items()]

    def preview_deletion(self, rid: UUID, session_id: str) -> DeletionPreview:
        check = self.check_deletion(rid, session_id)
        return DeletionPreview(check=check, records=self.session_records(rid, session_id))

    # --- commands ----------------------------------------------------------------------

    def register(
        self,
        ctx: Context,
        *,
        product: str,
        file_id: str,
        name: str | None = None,
        sync_interval_minutes: int = 30,
        stuck_after_minutes: int = 120,
    ) -> Registered:
        v.text("product", product, v.MAX_NAME_LENGTH)
        v.text("file_id", file_id, v.MAX_TEXT_LENGTH)
        v.optional_text("name", name, v.MAX_NAME_LENGTH)
        v.minutes("sync_interval_minutes", sync_interval_minutes)
        v.minutes("stuck_after_minutes", stuck_after_minutes)
        rid = registration_id(product, file_id)

        def command(pending: _Pending) -> Registered:
            if rid in self.repository:
                return Registered(rid, created=False, position=self.current_position())
            pending.aggregates.append(
                Registration.register(
                    product=product,
                    file_id=file_id,
                    name=name or file_id,
                    sync_interval_minutes=sync_interval_minutes,
                    stuck_after_minutes=stuck_after_minutes,
                    actor=ctx.actor,
                    correlation_id=ctx.correlation_id,
                )
            )
            return Registered(rid, created=True, position=0)

        return self._run(rid, command)

    def start_session(
        self,
        ctx: Context,
        rid: UUID,
        *,
        sync_type: str,
        session_id: str | None = None,
        worker: str = "",
        entity_types: Sequence[str] = (),
        request_id: str | None = None,
    ) -> SessionStarted:
        v.text("sync_type", sync_type, v.MAX_ENTITY_TYPE_LENGTH)
        v.optional_text("worker", worker, v.MAX_NAME_LENGTH)
        for entity_type in entity_types:
            v.text("entity_types[]", entity_type, v.MAX_ENTITY_TYPE_LENGTH)
        sid = v.uuid_text("session_id", session_id) if session_id else str(uuid4())

        def command(pending: _Pending) -> SessionStarted:
            reg = self._registration(rid)
            if self._session_or_none(rid, sid) is not None:
                return SessionStarted(sid, created=False, position=self.current_position())
            blocking = reg.open_session(sync_type)
            if blocking is not None:
                raise SessionInProgress(
                    f"A {sync_type!r} session ({blocking}) is already in progress in this "
                    "registration. Wait for it to end, or, if it is stuck, delete it "
                    "(see its deletion check) and start again.",
                    blocking_session_id=blocking,
                    sync_type=sync_type,
                )
            if request_id is not None and request_id not in reg.pending_requests:
                raise ValidationFailed(
                    f"Sync request {request_id} is not pending in this registration; "
                    "list pending requests with GET …/sync-requests?status=pending.",
                    field="request_id",
                )
            seq = reg.session_seq + 1
            session = Session.start(
                registration=rid,
                session_id=sid,
                seq=seq,
                sync_type=sync_type,
                worker=worker or "",
                entity_types=list(entity_types),
                request_id=request_id,
                actor=ctx.actor,
                correlation_id=ctx.correlation_id,
            )
            reg.trigger_event(
                Registration.SessionOpened,
                session_id=sid,
                sync_type=sync_type,
                seq=seq,
                actor=ctx.actor,
                correlation_id=ctx.correlation_id,
            )
            if request_id is not None:
                reg.trigger_event(
                    Registration.SyncRequestFulfilled,
                    request_id=request_id,
                    session_id=sid,
                    actor=ctx.actor,
                    correlation_id=ctx.correlation_id,
                )
            pending.aggregates += [reg, session]
            return SessionStarted(sid, created=True, position=0)

        return self._run(rid, command)

    def _live_session(
        self, reg: Registration, rid: UUID, session_id: str, session: Session | None = None
    ) -> Session:
        """The session, refused unless it is in progress and not removed."""
        session = session or self._session(rid, session_id)
        if session.deleted is not None:
            raise SessionNotInProgress(
                f"Session {session_id} was deleted by {session.deleted['by']}; it takes no "
                "more records. Start a new session.",
                session_id=session_id,
                status="deleted",
            )
        if session.seq <= reg.reset_cutoff:
            raise SessionNotInProgress(
                f"Session {session_id} was removed when the registration was reset; it "
                "takes no more records. Start a new session.",
                session_id=session_id,
                status="reset",
            )
        if not session.in_progress:
            raise SessionNotInProgress(
                f"Session {session_id} is {session.status}; an ended session takes no more "
                "records. Start a new session.",
                session_id=session_id,
                status=session.status,
            )
        return session

    def record_batch(
        self,
        ctx: Context,
        rid: UUID,
        session_id: str,
        records: Sequence[Sequence[str]],
        *,
        batch_id: str | None = None,
    ) -> BatchRecorded:
        batch = v.records(records)
        if batch_id is not None:
            v.text("batch_id", batch_id, v.MAX_KEY_LENGTH)

        def command(pending: _Pending) -> BatchRecorded:
            reg = self._registration(rid)
            session = self._session(rid, session_id)
            if batch_id is not None and batch_id in session.batches:
                return BatchRecorded(
                    accepted=0,
                    duplicates=len(batch),
                    records_synced=session.records_synced,
                    position=self.current_position(),
                )
            session = self._live_session(reg, rid, session_id, session)
            accepted, duplicates = session.split_batch(batch)
            session.trigger_event(
                Session.RecordsSynced,
                batch_id=batch_id or str(uuid4()),
                records=accepted,
                duplicates=duplicates,
                actor=ctx.actor,
                correlation_id=ctx.correlation_id,
            )
            pending.aggregates.append(session)
            return BatchRecorded(
                accepted=len(accepted),
                duplicates=duplicates,
                records_synced=session.records_synced,
                position=0,
            )

        return self._run(rid, command)

    def record_error(
        self,
        ctx: Context,
        rid: UUID,
        session_id: str,
        *,
        message: str,
        entity_type: str | None = None,
        key: str | None = None,
    ) -> int:
        v.text("message", message, v.MAX_TEXT_LENGTH)
        v.optional_text("entity_type", entity_type, v.MAX_ENTITY_TYPE_LENGTH)
        v.optional_text("key", key, v.MAX_KEY_LENGTH)

        def command(pending: _Pending) -> int:
            reg = self._registration(rid)
            session = self._live_session(reg, rid, session_id)
            session.trigger_event(
                Session.ErrorRecorded,
                message=message,
                entity_type=entity_type,
                key=key,
                actor=ctx.actor,
                correlation_id=ctx.correlation_id,
            )
            pending.aggregates.append(session)
            return 0

        return self._run(rid, command)

    def complete_session(self, ctx: Context, rid: UUID, session_id: str) -> int:
        return self._end_session(ctx, rid, session_id, "completed", None)

    def fail_session(self, ctx: Context, rid: UUID, session_id: str, *, reason: str) -> int:
        v.text("reason", reason, v.MAX_TEXT_LENGTH)
        return self._end_session(ctx, rid, session_id, "failed", reason)

    def _end_session(
        self, ctx: Context, rid: UUID, session_id: str, status: str, reason: str | None
    ) -> int:
        def command(pending: _Pending) -> int:
            reg = self._registration(rid)
            session = self._session(rid, session_id)
            if session.status == status and not self.is_removed(reg, session):
                return self.current_position()  # an agent retrying after a timeout
            session = self._live_session(reg, rid, session_id, session)
            meta = {"actor": ctx.actor, "correlation_id": ctx.correlation_id}
            if status == "completed":
                session.trigger_event(Session.Completed, **meta)
            else:
                session.trigger_event(Session.Failed, reason=reason, **meta)
            reg.trigger_event(
                Registration.SessionClosed,
                session_id=session_id,
                sync_type=session.sync_type,
                status=status,
                **meta,
            )
            pending.aggregates += [reg, session]
            return 0

        return self._run(rid, command)

    def delete_session(
        self,
        ctx: Context,
        rid: UUID,
        session_id: str,
        *,
        reason: str,
        override: bool = False,
        ticket: str | None = None,
    ) -> SessionDeleted:
        v.text("reason", reason, v.MAX_TEXT_LENGTH)
        v.optional_text("ticket", ticket, v.MAX_NAME_LENGTH)
        if override and not (ticket and ticket.strip()):
            raise ValidationFailed(
                "Overriding the deletion check needs the ticket of the support instruction "
                "that allows it: pass `ticket`.",
                field="ticket",
            )

        def command(pending: _Pending) -> SessionDeleted:
            reg = self._registration(rid)
            session = self._session(rid, session_id)
            self._refuse_if_removed(reg, session)
            check = self._deletion_check(reg, session)
            if not check.safe and not override:
                raise UnsafeDeletion(
                    f"Session {session_id} is {check.explain()}. Only a stuck session is "
                    "safe to delete; if Support instructed otherwise, pass override with "
                    "their ticket.",
                    failed_checks=list(check.failed_checks),
                )
            unsynced = self._delete(ctx, reg, session, reason, override, ticket, check, None)
            pending.aggregates += [reg, session]
            return SessionDeleted(unsynced=unsynced, position=0)

        return self._run(rid, command)

    def _refuse_if_removed(self, reg: Registration, session: Session) -> None:
        if session.deleted is not None:
            raise AlreadyDeleted(
                f"Session {session.session_id} was already deleted by "
                f"{session.deleted['by']} ({session.deleted['reason']}).",
                session_id=session.session_id,
            )
        if session.seq <= reg.reset_cutoff:
            raise AlreadyDeleted(
                f"Session {session.session_id} was already removed by a reset of this "
                "registration; undo the reset to bring it back.",
                session_id=session.session_id,
            )

    def _delete(
        self,
        ctx: Context,
        reg: Registration,
        session: Session,
        reason: str,
        override: bool,
        ticket: str | None,
        check: DeletionCheck,
        undo_of: int | None,
    ) -> int:
        """Trigger the deletion and its compensating unsync; return the receipts unsynced."""
        records = (
            self.session_records(UUID(session.registration_id), session.session_id)
            if session.records_synced
            else []
        )
        meta = {"actor": ctx.actor, "correlation_id": ctx.correlation_id}
        session.trigger_event(
            Session.Deleted,
            reason=reason,
            ticket=ticket,
            override=override,
            failed_checks=list(check.failed_checks),
            undo_of=undo_of,
            **meta,
        )
        session.trigger_event(
            Session.ReceiptsUnsynced,
            registration_id=session.registration_id,
            session_id=session.session_id,
            receipts=len(records),
            records=records,
            **meta,
        )
        reg.trigger_event(
            Registration.SessionRemoved,
            session_id=session.session_id,
            sync_type=session.sync_type,
            **meta,
        )
        return len(records)

    def reset_registration(
        self, ctx: Context, rid: UUID, *, reason: str, confirm_file_id: str
    ) -> RegistrationReset:
        v.text("reason", reason, v.MAX_TEXT_LENGTH)

        def command(pending: _Pending) -> RegistrationReset:
            reg = self._registration(rid)
            if confirm_file_id != reg.file_id:
                raise ValidationFailed(
                    "Resetting removes the history of every previous sync and makes every "
                    "record sync again. To confirm, type the registration's file_id "
                    f"exactly ({reg.file_id!r}) as confirm_file_id.",
                    field="confirm_file_id",
                )
            receipts = self.receipt_counter(rid) if self.receipt_counter else None
            self._reset(
                ctx, reg, reason, chain="", cutoff=reg.session_seq, undo_of=None, receipts=receipts
            )
            pending.aggregates.append(reg)
            return RegistrationReset(reg.session_seq, receipts, position=0)

        return self._run(rid, command)

    def _reset(
        self,
        ctx: Context,
        reg: Registration,
        reason: str,
        *,
        chain: str,
        cutoff: int,
        undo_of: int | None,
        receipts: int | None,
    ) -> None:
        meta = {"actor": ctx.actor, "correlation_id": ctx.correlation_id}
        in_progress = [
            [sid, sync_type, seq]
            for sync_type, (sid, seq) in reg.open_sessions.items()
            if seq <= cutoff
        ]
        reg.trigger_event(
            Registration.RegistrationReset,
            chain=chain,
            reason=reason,
            cutoff=cutoff,
            in_progress_removed=in_progress,
            undo_of=undo_of,
            **meta,
        )
        reg.trigger_event(
            Registration.ReceiptsUnsynced,
            reset_version=reg.version,
            sessions_up_to_seq=cutoff,
            receipts=receipts,
            **meta,
        )

    def request_sync(
        self, ctx: Context, rid: UUID, *, kind: str, confirm: bool = False
    ) -> SyncRequest:
        if kind not in ("periodic", "full"):
            raise ValidationFailed(
                f"kind must be 'periodic' (changes only) or 'full' (everything), not {kind!r}.",
                field="kind",
            )
        if kind == "full" and not confirm:
            raise ValidationFailed(
                "A full synchronisation resends all data from on-premise to the cloud. "
                "Pass confirm: true to go ahead.",
                field="confirm",
            )
        request_id = str(uuid4())

        def command(pending: _Pending) -> SyncRequest:
            reg = self._registration(rid)
            reg.trigger_event(
                Registration.SyncRequested,
                request_id=request_id,
                kind=kind,
                confirmed=bool(confirm),
                actor=ctx.actor,
                correlation_id=ctx.correlation_id,
            )
            pending.aggregates.append(reg)
            return SyncRequest(request_id, kind, position=0)

        return self._run(rid, command)

    # --- undo (rule 8) ----------------------------------------------------------------

    def event_at(self, position: int) -> Any:
        """The domain event recorded at a global position, or None."""
        found = self.recorder.select_notifications(start=position, limit=1, stop=position)
        if not found:
            return None
        return self.mapper.to_domain_event(found[0])

    def undo(self, ctx: Context, position: int, *, reason: str) -> Undone:
        v.text("reason", reason, v.MAX_TEXT_LENGTH)
        event = self.event_at(position)
        if event is None:
            raise NotFound(f"No event at position {position}.", position=position)
        if isinstance(event, Session.ReceiptsUnsynced | Registration.ReceiptsUnsynced):
            # The compensating half of a deletion or reset, recorded right after it in the
            # same transaction: undo the action it belongs to.
            action = self._position_of(event.originator_id, event.originator_version - 1, position)
            return self.undo(ctx, action, reason=reason)
        if isinstance(event, Session.Deleted | Session.Restored):
            rid = UUID(self._session_registration(event.originator_id))
            return self._run(
                rid, lambda p: self._undo_session_change(ctx, rid, event, position, reason, p)
            )
        if isinstance(event, Registration.RegistrationReset | Registration.ResetUndone):
            rid = event.originator_id
            return self._run(
                rid, lambda p: self._undo_reset_change(ctx, rid, event, position, reason, p)
            )
        raise NotUndoable(
            f"Position {position} is a {type(event).__qualname__} event; only session "
            "deletions, registration resets and undos can be undone.",
            position=position,
        )

    def _position_of(self, aggregate_id: UUID, version: int, near: int) -> int:
        """Position of an aggregate's event saved in the same transaction, just before `near`."""
        window = self.recorder.select_notifications(start=max(1, near - 64), limit=65, stop=near)
        for notification in reversed(window):
            if (
                notification.originator_id == aggregate_id
                and notification.originator_version == version
            ):
                return notification.id
        raise NotFound(f"The action recorded with position {near} could not be found.")

    def _session_registration(self, aggregate_id: UUID) -> str:
        session: Session = self.repository.get(aggregate_id)
        return session.registration_id

    def _undo_session_change(
        self, ctx: Context, rid: UUID, event: Any, position: int, reason: str, pending: _Pending
    ) -> Undone:
        reg = self._registration(rid)
        session: Session = self.repository.get(event.originator_id)
        if session.last_change_version != event.originator_version:
            raise NotUndoable(
                f"Position {position} was already undone (or superseded by a later change "
                f"to session {session.session_id}).",
                position=position,
            )
        meta = {"actor": ctx.actor, "correlation_id": ctx.correlation_id}
        if isinstance(event, Session.Deleted):
            if session.seq <= reg.reset_cutoff:
                raise NotUndoable(
                    f"Session {session.session_id} was also removed by a later reset of the "
                    "registration; undo that reset first.",
                    position=position,
                )
            before: Session = self.repository.get(
                event.originator_id, version=event.originator_version - 1
            )
            reopen = before.in_progress
            blocking = reg.open_session(session.sync_type) if reopen else None
            if blocking is not None and blocking != session.session_id:
                raise NotUndoable(
                    f"Restoring session {session.session_id} would leave two {session.sync_type!r} "
                    f"sessions in progress ({blocking} is in progress now). End or delete "
                    f"{blocking} first.",
                    position=position,
                    blocking_session_id=blocking,
                )
            session.trigger_event(
                Session.Restored, undo_of=position, reason=reason, reopened=reopen, **meta
            )
            reg.trigger_event(
                Registration.SessionReinstated,
                session_id=session.session_id,
                sync_type=session.sync_type,
                seq=session.seq,
                reopen=reopen,
                **meta,
            )
            kind = "deletion"
        else:
            if session.seq <= reg.reset_cutoff:
                raise NotUndoable(
                    f"Session {session.session_id} has since been removed by a reset.",
                    position=position,
                )
            check = self._deletion_check(reg, session)
            self._delete(ctx, reg, session, reason, True, None, check, position)
            kind = "restoration"
        pending.aggregates += [reg, session]
        return Undone(position, kind, rid, session.session_id, position=0)

    def _sessions_to_reopen(
        self, reg: Registration, still_cut: int, position: int
    ) -> list[list[Any]]:
        """Dormant sessions no reset in force covers any more, refusing two of one type."""
        reopened: list[list[Any]] = []
        claimed: dict[str, str] = {}
        for sid, (sync_type, seq) in sorted(reg.dormant.items(), key=lambda e: e[1][1]):
            if seq <= still_cut:
                continue
            blocking = claimed.get(sync_type) or reg.open_session(sync_type)
            if blocking is not None:
                raise NotUndoable(
                    f"Undoing this reset would leave two {sync_type!r} sessions in progress "
                    f"({sid}, hidden by the reset, and {blocking}). End or delete {blocking} "
                    "first, if it is visible; otherwise undo the later reset first.",
                    position=position,
                    blocking_session_id=blocking,
                )
            claimed[sync_type] = sid
            reopened.append([sid, sync_type, seq])
        return reopened

    def _undo_reset_change(
        self, ctx: Context, rid: UUID, event: Any, position: int, reason: str, pending: _Pending
    ) -> Undone:
        reg = self._registration(rid)
        chain = event.chain or str(event.originator_version)
        state = reg.resets.get(chain)
        if state is None or state["last_version"] != event.originator_version:
            raise NotUndoable(
                f"Position {position} was already undone (or superseded by a later undo).",
                position=position,
            )
        meta = {"actor": ctx.actor, "correlation_id": ctx.correlation_id}
        if isinstance(event, Registration.RegistrationReset):
            still_cut = max(
                (c["cutoff"] for k, c in reg.resets.items() if c["active"] and k != chain),
                default=0,
            )
            restored_recent = {
                sync_type: kept
                for sync_type, stack in reg.hidden_recent.items()
                if (kept := [e for e in stack if e[1] > still_cut])
            }
            reopened = self._sessions_to_reopen(reg, still_cut, position)
            reg.trigger_event(
                Registration.ResetUndone,
                chain=chain,
                undo_of=position,
                reason=reason,
                restored_recent=restored_recent,
                reopened=reopened,
                **meta,
            )
            kind = "reset"
        else:
            self._reset(
                ctx,
                reg,
                reason,
                chain=chain,
                cutoff=state["cutoff"],
                undo_of=position,
                receipts=self.receipt_counter(rid) if self.receipt_counter else None,
            )
            kind = "reset_undo"
        pending.aggregates.append(reg)
        return Undone(position, kind, rid, None, position=0)


def _with_position(result: T, position: int) -> T:
    if isinstance(result, int):
        return position  # type: ignore[return-value]
    if hasattr(result, "position"):
        return replace(result, position=position)  # type: ignore[type-var]
    return result
