"""The registration aggregate: one sync "bucket" (product + file_id).

Its state stays bounded however long its history grows (so loading it stays flat): the
in-progress session of each sync type, a short stack of the newest sessions per type (for
"most recent", domain/recent.py), pending sync requests and the chains of resets. Session
details, records and errors live on each session's own aggregate (domain/session.py).

It also knows who may reach it (rule 13): the worker token name that holds it and the
names support granted access to.

Its command methods own its invariants (rules 2, 7, 8, 13, 14): they refuse, or trigger
events; the application service loads, calls them and saves.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain import recent
from domain.errors import (
    NotFound,
    NotUndoable,
    RegistrationHeld,
    RequestNotPending,
    SessionInProgress,
    ValidationFailed,
)
from domain.values import Context, emit, registration_id

# Rule 18: what support may change after registering.
SETTINGS = (
    "name",
    "sync_interval_minutes",
    "stuck_after_minutes",
    "auto_remove_stuck_after_minutes",
    "approvals_required",
)

# Rule 14: which session sync types fulfil a request of each kind.
FULFILS = {"full": ("full",), "periodic": ("periodic", "full")}


class Registration(Aggregate):
    # v2: "most recent" kept per domain/recent.py (`recent` + `truncated`, no hidden copy).
    # v3: `holder` and `grants` (rule 13).
    class_version = 3

    # Rules 16 and 17, opt-in (class-level defaults: registrations recorded before these
    # settings existed load with them off). Changed only by SettingsChanged (rule 18).
    auto_remove_stuck_after_minutes: int | None = None
    approvals_required: bool = False

    class Event(Aggregate.Event):
        actor: str
        correlation_id: str

    class Registered(Aggregate.Created, Event):
        product: str
        file_id: str
        name: str
        sync_interval_minutes: int
        stuck_after_minutes: int
        # Rule 13: the worker token name that registered it (None: support registered it, or
        # it was registered before holders were recorded; the first worker to register it
        # again then claims it).
        holder: str | None = None

    @staticmethod
    def create_id(product: str, file_id: str) -> UUID:
        return registration_id(product, file_id)

    def __init__(
        self,
        product: str,
        file_id: str,
        name: str,
        sync_interval_minutes: int,
        stuck_after_minutes: int,
        holder: str | None = None,
    ) -> None:
        self.product = product
        self.file_id = file_id
        self.name = name
        self.sync_interval_minutes = sync_interval_minutes
        self.stuck_after_minutes = stuck_after_minutes
        self.session_seq = 0
        # sync_type -> [session_id, seq] of the session in progress (rule 2).
        self.open_sessions: dict[str, list[Any]] = {}
        # "Most recent" (rule 5), see domain/recent.py.
        self.recent: recent.Stacks = {}
        self.truncated: recent.Flags = {}
        # request_id -> kind, of the pending sync requests (rule 14).
        self.pending_requests: dict[str, str] = {}
        # session_id -> [sync_type, seq]: in progress when a reset hid it; reopens when no
        # reset in force covers it any more.
        self.dormant: dict[str, list[Any]] = {}
        # chain id (version of the original reset) -> its state; see reset_cutoff.
        self.resets: dict[str, dict[str, Any]] = {}
        # Rule 13: who may reach it as a worker: the holder, and token name -> [by, at] of
        # each grant support made.
        self.holder = holder
        self.grants: dict[str, list[str]] = {}

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        recent.upcast_v1_snapshot(state)

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        state.setdefault("holder", None)
        state.setdefault("grants", {})

    @classmethod
    def register(
        cls,
        ctx: Context,
        *,
        product: str,
        file_id: str,
        name: str,
        sync_interval_minutes: int,
        stuck_after_minutes: int,
        holder: str | None = None,
    ) -> Registration:
        return cls._create(
            cls.Registered,
            id=registration_id(product, file_id),
            product=product,
            file_id=file_id,
            name=name,
            sync_interval_minutes=sync_interval_minutes,
            stuck_after_minutes=stuck_after_minutes,
            holder=holder,
            actor=ctx.actor,
            correlation_id=ctx.correlation_id,
        )

    # --- derived state -------------------------------------------------------------

    @property
    def reset_cutoff(self) -> int:
        """Sessions with seq at or below this are removed by a reset still in force."""
        return max((c["cutoff"] for c in self.resets.values() if c["active"]), default=0)

    def session_in_progress(self, sync_type: str) -> str | None:
        """The session of this type in progress and not removed (rule 2), if any."""
        entry = self.open_sessions.get(sync_type)
        return entry[0] if entry else None

    def most_recent(self, sync_type: str) -> str | None:
        """The most recent not-removed session of a type (rule 5; domain/recent.py)."""
        return recent.most_recent(self.recent, sync_type, self.reset_cutoff)

    def pending_request_of(self, kind: str) -> str | None:
        return next((rid for rid, k in self.pending_requests.items() if k == kind), None)

    def may_reach(self, worker: str) -> bool:
        """Rule 13: may this worker token name reach the registration?"""
        return worker == self.holder or worker in self.grants

    def settings(self) -> dict[str, Any]:
        """The settings support may change (rule 18)."""
        return {name: getattr(self, name) for name in SETTINGS}

    # --- command methods -----------------------------------------------------------

    def admit(self, ctx: Context, worker: str | None) -> bool:
        """Rule 13, on registering again: support (`worker` None), the holder and the
        workers granted access are let in; an unheld registration is claimed by the first
        worker (True: a claim was triggered); anyone else is refused, and told nothing of
        the registration (not its id, name or holder)."""
        if worker is None or self.may_reach(worker):
            return False
        if self.holder is None:
            emit(self, ctx, self.HolderClaimed, token_name=worker)
            return True
        raise RegistrationHeld(
            "This product and file are already registered by another worker token, so this "
            "token cannot use them. If this agent should sync the file, ask support to grant "
            f"the token {worker!r} access (syncledger tokens grant {worker} REGISTRATION).",
            token_name=worker,
        )

    def grant(self, ctx: Context, token_name: str, reason: str | None = None) -> bool:
        """Rule 13: let another worker token reach the registration; False when it already
        may (the holder, or granted before): nothing to record."""
        if self.may_reach(token_name):
            return False
        emit(self, ctx, self.AccessGranted, token_name=token_name, reason=reason)
        return True

    def revoke_grant(self, ctx: Context, token_name: str, reason: str | None = None) -> None:
        if token_name not in self.grants:
            held = " (it holds the registration; a holder is not a grant)"
            raise NotFound(
                f"Token {token_name!r} has no grant on this registration"
                f"{held if token_name == self.holder else ''}; list the grants to see "
                "which names have one.",
                token_name=token_name,
            )
        emit(self, ctx, self.AccessRevoked, token_name=token_name, reason=reason)

    def change_settings(self, ctx: Context, wanted: dict[str, Any]) -> dict[str, Any]:
        """Rule 18: one event for the settings that differ; returns them (empty: none)."""
        current = self.settings()
        changed = {k: v for k, v in wanted.items() if k in SETTINGS and current[k] != v}
        if changed:
            emit(
                self,
                ctx,
                self.SettingsChanged,
                changes=changed,
                previous={k: current[k] for k in changed},
            )
        return changed

    def open_session(
        self, ctx: Context, *, session_id: str, sync_type: str, request_id: str | None
    ) -> int:
        """Rule 2 and 14: open a session (fulfilling a request); returns its seq."""
        blocking = self.session_in_progress(sync_type)
        if blocking is not None:
            raise SessionInProgress(
                f"A {sync_type!r} session ({blocking}) is already in progress in this "
                "registration. Wait for it to end, or, if it is stuck, delete it "
                "(see its deletion check) and start again.",
                blocking_session_id=blocking,
                sync_type=sync_type,
            )
        if request_id is not None:
            kind = self.pending_requests.get(request_id)
            if kind is None:
                raise ValidationFailed(
                    f"Sync request {request_id} is not pending in this registration; "
                    "list the pending requests and name one of them.",
                    field="request_id",
                )
            if sync_type not in FULFILS[kind]:
                raise ValidationFailed(
                    f"Sync request {request_id} asks for a {kind} sync; a {sync_type!r} "
                    f"session cannot fulfil it (use sync_type {FULFILS[kind][0]!r}).",
                    field="request_id",
                    kind=kind,
                )
        seq = self.session_seq + 1
        emit(self, ctx, self.SessionOpened, session_id=session_id, sync_type=sync_type, seq=seq)
        if request_id is not None:
            emit(self, ctx, self.SyncRequestFulfilled, request_id=request_id, session_id=session_id)
        return seq

    def close_session(self, ctx: Context, session_id: str, sync_type: str, status: str) -> None:
        emit(
            self, ctx, self.SessionClosed, session_id=session_id, sync_type=sync_type, status=status
        )

    def remove_session(
        self, ctx: Context, session_id: str, sync_type: str, refill: list[list[Any]] | None
    ) -> None:
        """Companion of a deletion; `refill` when needs_refill() said so (domain/recent.py)."""
        emit(
            self,
            ctx,
            self.SessionRemoved,
            session_id=session_id,
            sync_type=sync_type,
            refill=refill,
        )

    def needs_refill(self, session_id: str, sync_type: str) -> bool:
        return recent.needs_refill(self.recent, self.truncated, sync_type, session_id)

    def reinstate_session(
        self,
        ctx: Context,
        session_id: str,
        sync_type: str,
        seq: int,
        *,
        reopen: bool,
        position: int,
    ) -> None:
        """Companion of an undone deletion; refuses two in-progress sessions of one type."""
        blocking = self.session_in_progress(sync_type) if reopen else None
        if blocking is not None and blocking != session_id:
            raise NotUndoable(
                f"Restoring session {session_id} would leave two {sync_type!r} sessions in "
                f"progress ({blocking} is in progress now). End or delete {blocking} first.",
                position=position,
                blocking_session_id=blocking,
            )
        emit(
            self,
            ctx,
            self.SessionReinstated,
            session_id=session_id,
            sync_type=sync_type,
            seq=seq,
            reopen=reopen,
        )

    def reset(
        self, ctx: Context, *, reason: str, chain: str, cutoff: int, undo_of: int | None
    ) -> list[list[Any]]:
        """Rule 7: trigger the reset and its compensating unsync. Returns the in-progress
        sessions it removes ([session_id, sync_type, seq])."""
        in_progress = [
            [sid, sync_type, seq]
            for sync_type, (sid, seq) in self.open_sessions.items()
            if seq <= cutoff
        ]
        emit(
            self,
            ctx,
            self.RegistrationReset,
            chain=chain,
            reason=reason,
            cutoff=cutoff,
            in_progress_removed=in_progress,
            undo_of=undo_of,
        )
        # The count of receipts is not the log's to know cheaply (it is every receipt of a
        # session up to the cutoff): the event records the cutoff, which determines it.
        emit(
            self,
            ctx,
            self.ReceiptsUnsynced,
            reset_version=self.version,
            sessions_up_to_seq=cutoff,
            receipts=None,
        )
        return in_progress

    def undo_reset(
        self, ctx: Context, *, chain: str, position: int, reason: str
    ) -> list[list[Any]]:
        """Rule 8: undo a reset. Returns the sessions it reopens ([sid, sync_type, seq])."""
        still_cut = max(
            (c["cutoff"] for k, c in self.resets.items() if c["active"] and k != chain),
            default=0,
        )
        reopened: list[list[Any]] = []
        claimed: dict[str, str] = {}
        for sid, (sync_type, seq) in sorted(self.dormant.items(), key=lambda e: e[1][1]):
            if seq <= still_cut:
                continue
            blocking = claimed.get(sync_type) or self.session_in_progress(sync_type)
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
        emit(
            self,
            ctx,
            self.ResetUndone,
            chain=chain,
            undo_of=position,
            reason=reason,
            restored_recent={},
            reopened=reopened,
        )
        return reopened

    def request_sync(self, ctx: Context, *, kind: str, confirmed: bool, request_id: str) -> str:
        """Rule 14: a kind already pending gives back the pending request's id."""
        pending = self.pending_request_of(kind)
        if pending is not None:
            return pending
        emit(self, ctx, self.SyncRequested, request_id=request_id, kind=kind, confirmed=confirmed)
        return request_id

    def cancel_request(self, ctx: Context, request_id: str, reason: str) -> None:
        if request_id not in self.pending_requests:
            raise RequestNotPending(
                f"Sync request {request_id} is not pending in this registration (it was "
                "fulfilled or cancelled, or never made); only a pending request can be "
                "cancelled.",
                request_id=request_id,
            )
        emit(self, ctx, self.SyncRequestCancelled, request_id=request_id, reason=reason)

    # --- events ----------------------------------------------------------------------

    class SessionOpened(Event):
        session_id: str
        sync_type: str
        seq: int

        def apply(self, reg: Registration) -> None:
            reg.session_seq = self.seq
            reg.open_sessions[self.sync_type] = [self.session_id, self.seq]
            recent.push(reg.recent, reg.truncated, self.sync_type, self.session_id, self.seq)

    class SessionClosed(Event):
        session_id: str
        sync_type: str
        status: str

        def apply(self, reg: Registration) -> None:
            if reg.session_in_progress(self.sync_type) == self.session_id:
                del reg.open_sessions[self.sync_type]

    class SessionRemoved(Event):
        """Companion of a session deletion: frees its slot and its place in history."""

        session_id: str
        sync_type: str
        refill: list[list[Any]] | None = None

        def apply(self, reg: Registration) -> None:
            if reg.session_in_progress(self.sync_type) == self.session_id:
                del reg.open_sessions[self.sync_type]
            recent.drop(reg.recent, reg.truncated, self.sync_type, self.session_id)
            if self.refill is not None:
                recent.refill(reg.recent, reg.truncated, self.sync_type, self.refill)

    class SessionReinstated(Event):
        """Companion of an undone deletion: the session is back in history (and open)."""

        session_id: str
        sync_type: str
        seq: int
        reopen: bool

        def apply(self, reg: Registration) -> None:
            if self.reopen:
                reg.open_sessions[self.sync_type] = [self.session_id, self.seq]
            recent.reinstate(reg.recent, reg.truncated, self.sync_type, self.session_id, self.seq)

    class RegistrationReset(Event):
        """Rule 7: every session up to `cutoff` leaves the history; all receipts unsync.

        `undo_of` is set when this re-applies a reset whose undo was itself undone.
        """

        chain: str
        reason: str
        cutoff: int
        in_progress_removed: list[list[Any]]
        undo_of: int | None

        def apply(self, reg: Registration) -> None:
            chain = self.chain or str(self.originator_version)
            reg.resets[chain] = {
                "cutoff": self.cutoff,
                "active": True,
                "last_version": self.originator_version,
                "in_progress_removed": self.in_progress_removed,
            }
            for sync_type, (session_id, seq) in list(reg.open_sessions.items()):
                if seq <= self.cutoff:
                    reg.dormant[session_id] = [sync_type, seq]
                    del reg.open_sessions[sync_type]

    class ReceiptsUnsynced(Event):
        """The compensating unsync of a reset, readable on its own by an auditor: every
        receipt from a session with seq up to `sessions_up_to_seq` goes. `receipts` is
        None from this version on (earlier versions copied a read model's count)."""

        reset_version: int
        sessions_up_to_seq: int
        receipts: int | None

    class ResetUndone(Event):
        """Rule 8: the restoring event of a reset. (`restored_recent` is only read from
        events of class version 1; it is empty from then on.)"""

        chain: str
        undo_of: int
        reason: str
        restored_recent: dict[str, list[list[Any]]]
        reopened: list[list[Any]]

        def apply(self, reg: Registration) -> None:
            state = reg.resets[self.chain]
            state["active"] = False
            state["last_version"] = self.originator_version
            for session_id, sync_type, seq in self.reopened:
                reg.open_sessions[sync_type] = [session_id, seq]
                reg.dormant.pop(session_id, None)

    class SyncRequested(Event):
        request_id: str
        kind: str
        confirmed: bool

        def apply(self, reg: Registration) -> None:
            reg.pending_requests[self.request_id] = self.kind

    class SyncRequestFulfilled(Event):
        request_id: str
        session_id: str

        def apply(self, reg: Registration) -> None:
            reg.pending_requests.pop(self.request_id, None)

    class SyncRequestCancelled(Event):
        """Rule 14: support withdrew a pending request."""

        request_id: str
        reason: str

        def apply(self, reg: Registration) -> None:
            reg.pending_requests.pop(self.request_id, None)

    class HolderClaimed(Event):
        """Rule 13: the first worker to register a registration nobody held now holds it."""

        token_name: str

        def apply(self, reg: Registration) -> None:
            reg.holder = self.token_name

    class AccessGranted(Event):
        """Rule 13: support let another worker token reach the registration."""

        token_name: str
        reason: str | None = None

        def apply(self, reg: Registration) -> None:
            at = self.timestamp.isoformat()
            reg.grants = {**reg.grants, self.token_name: [self.actor, at]}

    class AccessRevoked(Event):
        """Rule 13: support took a grant back."""

        token_name: str
        reason: str | None = None

        def apply(self, reg: Registration) -> None:
            reg.grants = {k: v for k, v in reg.grants.items() if k != self.token_name}

    class SettingsChanged(Event):
        """Rule 18: support changed settings (`changes`: the new values only)."""

        changes: dict[str, Any]
        previous: dict[str, Any]

        def apply(self, reg: Registration) -> None:
            for name, value in self.changes.items():
                setattr(reg, name, value)
