"""The everyday commands (rules 1-4, 9, 14) and the queries they share.

Each command validates its input, then, in the unit of work, loads the aggregates, calls
their command methods (which own the rules and refuse), and names what to save.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from uuid import UUID, uuid4

from domain import validation as v
from domain.errors import ValidationFailed
from domain.infra.recorders import SideWrite
from domain.liveness import is_stuck, to_micros
from domain.policy import DeletionCheck, check_deletion, is_removed
from domain.registration import Registration
from domain.results import BatchRecorded, Registered, SessionStarted, SessionState, SyncRequest
from domain.session import Session
from domain.unit_of_work import Pending, UnitOfWork
from domain.values import Context, Record, session_aggregate_id


class Commands(UnitOfWork):
    # --- queries -----------------------------------------------------------------------

    # Cached aggregates are shared (no deep copies, for speed): queries read them under the
    # registration's lock and hand out shallow copies.

    def get_registration(self, rid: UUID) -> Registration:
        with self.lock(rid):
            return copy.copy(self.load_registration(rid))

    def get_session(self, rid: UUID, session_id: str) -> Session:
        with self.lock(rid):
            return copy.copy(self.load_session(rid, session_id))

    def is_removed(self, reg: Registration, session: Session) -> bool:
        return is_removed(reg, session)

    def check_deletion(self, rid: UUID, session_id: str) -> DeletionCheck:
        with self.lock(rid):
            return check_deletion(self.load_registration(rid), self.load_session(rid, session_id))

    def session_state(self, rid: UUID, session_id: str, now: int) -> SessionState:
        """A session as this process's last write left it (no query: see `peek`), with the
        rules' verdicts at `now` (microseconds): stuck (rule 15), its deletion check (rule 5)."""
        with self.lock(rid):
            reg: Registration = self.peek(rid)
            session: Session = self.peek(session_aggregate_id(rid, session_id))
            stuck = is_stuck(
                status=session.status,
                removed=is_removed(reg, session),
                last_activity_at=to_micros(session.last_activity_at),
                stuck_after_minutes=reg.stuck_after_minutes,
                now=now,
            )
            return SessionState(copy.copy(session), stuck, check_deletion(reg, session))

    def registration_state(self, rid: UUID) -> Registration:
        """A registration as this process's last write left it (no query: see `peek`)."""
        with self.lock(rid):
            reg: Registration = self.peek(rid)
            return copy.copy(reg)

    def session_records(self, rid: UUID, session_id: str) -> list[Record]:
        """The records a session synced, newest digest per record, in first-sync order."""
        latest: dict[tuple[str, str], str] = {}
        for event in self.events.get(session_aggregate_id(rid, session_id)):
            if isinstance(event, Session.RecordsSynced):
                for entity_type, key, digest in event.records:
                    latest[(entity_type, key)] = digest
        return [(et, key, digest) for (et, key), digest in latest.items()]

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
        worker: str | None = None,
        side_writes: Callable[[UUID], Sequence[SideWrite]] | None = None,
    ) -> Registered:
        """Rule 1 and 13. `worker`: the worker token name registering (None: support); a
        registration held by another worker refuses it (RegistrationHeld), decided on the
        aggregate in this unit of work, so of two workers racing to register one file
        exactly one holds it. `side_writes(rid)`: rows that commit with the Registered (or
        HolderClaimed) event, in its transaction (the API's worker-scope row); not run when
        nothing is recorded."""
        v.text("product", product, v.MAX_NAME_LENGTH)
        v.text("file_id", file_id, v.MAX_FILE_ID_LENGTH)
        v.optional_text("name", name, v.MAX_NAME_LENGTH)
        v.minutes("sync_interval_minutes", sync_interval_minutes)
        v.minutes("stuck_after_minutes", stuck_after_minutes)
        rid = Registration.create_id(product, file_id)

        def command(pending: Pending) -> Registered:
            reg: Registration | None = self.load_if_any(rid)
            if reg is not None:
                if not reg.admit(ctx, worker):
                    return Registered(rid, created=False, position=self.current_position())
                if side_writes is not None:
                    pending.side_writes += side_writes(rid)
                pending.add(reg)
                return Registered(rid, created=False, position=0)
            if side_writes is not None:
                pending.side_writes += side_writes(rid)
            pending.add(
                Registration.register(
                    ctx,
                    product=product,
                    file_id=file_id,
                    name=name or file_id,
                    sync_interval_minutes=sync_interval_minutes,
                    stuck_after_minutes=stuck_after_minutes,
                    holder=worker,
                )
            )
            return Registered(rid, created=True, position=0)

        return self.run(rid, command)

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

        def command(pending: Pending) -> SessionStarted:
            reg = self.load_registration(rid)
            # A repeated start names its session; an id made here is new (no lookup).
            if session_id and self.session_or_none(rid, sid) is not None:
                return SessionStarted(sid, created=False, position=self.current_position())
            seq = reg.open_session(ctx, session_id=sid, sync_type=sync_type, request_id=request_id)
            session = Session.start(
                registration=rid,
                session_id=sid,
                seq=seq,
                sync_type=sync_type,
                worker=worker or "",
                entity_types=list(entity_types),
                request_id=request_id,
                ctx=ctx,
            )
            pending.add(reg, session)
            return SessionStarted(sid, created=True, position=0)

        return self.run(rid, command)

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

        def command(pending: Pending) -> BatchRecorded:
            # Finding 2: everything this decision depends on is on the session itself — a
            # deletion is a session event, and a reset records its removal on each session it
            # hides (Session.HiddenByReset) — so saving the session alone puts the decision
            # under the optimistic concurrency check, across processes. (Chosen over saving
            # the registration with every batch, which would make every batch of every
            # session contend on one aggregate.) The registration's cutoff is still read for
            # sessions hidden by resets recorded before HiddenByReset existed.
            reg = self.load_registration(rid)
            session = self.load_session(rid, session_id)
            if batch_id is not None and batch_id in session.batches:
                return BatchRecorded(
                    accepted=0,
                    duplicates=len(batch),
                    records_synced=session.records_synced,
                    position=self.current_position(),
                )
            accepted, duplicates = session.record_batch(
                ctx, batch, batch_id or str(uuid4()), cutoff=reg.reset_cutoff
            )
            pending.add(session)
            return BatchRecorded(
                accepted=accepted,
                duplicates=duplicates,
                records_synced=session.records_synced,
                position=0,
            )

        return self.run(rid, command)

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

        def command(pending: Pending) -> int:
            reg = self.load_registration(rid)
            session = self.load_session(rid, session_id)
            session.record_error(ctx, message, entity_type, key, cutoff=reg.reset_cutoff)
            pending.add(session)
            return 0

        return self.run(rid, command)

    def complete_session(self, ctx: Context, rid: UUID, session_id: str) -> int:
        return self._end_session(ctx, rid, session_id, "completed", None)

    def fail_session(self, ctx: Context, rid: UUID, session_id: str, *, reason: str) -> int:
        v.text("reason", reason, v.MAX_TEXT_LENGTH)
        return self._end_session(ctx, rid, session_id, "failed", reason)

    def _end_session(
        self, ctx: Context, rid: UUID, session_id: str, status: str, reason: str | None
    ) -> int:
        def command(pending: Pending) -> int:
            reg = self.load_registration(rid)
            session = self.load_session(rid, session_id)
            if session.status == status and not is_removed(reg, session):
                return self.current_position()  # an agent retrying after a timeout
            session.end(ctx, status, reason, cutoff=reg.reset_cutoff)
            reg.close_session(ctx, session_id, session.sync_type, status)
            pending.add(reg, session)
            return 0

        return self.run(rid, command)

    def request_sync(
        self, ctx: Context, rid: UUID, *, kind: str, confirm: bool = False
    ) -> SyncRequest:
        """Rule 9 and 14. `created` is False when a request of that kind was pending."""
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
        new_id = str(uuid4())

        def command(pending: Pending) -> SyncRequest:
            reg = self.load_registration(rid)
            request_id = reg.request_sync(
                ctx, kind=kind, confirmed=bool(confirm), request_id=new_id
            )
            if request_id != new_id:
                return SyncRequest(request_id, kind, self.current_position(), created=False)
            pending.add(reg)
            return SyncRequest(request_id, kind, position=0)

        return self.run(rid, command)

    def cancel_sync_request(
        self, ctx: Context, rid: UUID, request_id: str, *, reason: str
    ) -> SyncRequest:
        """Rule 14: support withdraws a pending request (RequestNotPending otherwise)."""
        v.text("reason", reason, v.MAX_TEXT_LENGTH)

        def command(pending: Pending) -> SyncRequest:
            reg = self.load_registration(rid)
            kind = reg.pending_requests.get(request_id, "")
            reg.cancel_request(ctx, request_id, reason)
            pending.add(reg)
            return SyncRequest(request_id, kind, position=0)

        return self.run(rid, command)
