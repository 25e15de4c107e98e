"""The registration aggregate: one sync "bucket" (product + file_id).

Its state stays bounded however long its history grows (so loading it stays flat): the
in-progress session of each sync type, a short stack of the newest sessions per type (for
"most recent", domain/recent.py), pending sync requests and the chains of resets. Session
details, records and errors live on each session's own aggregate (domain/session.py).

It also knows who may reach it (rule 13): the worker token name that holds it and the
names support granted access to.

Its command methods own its invariants (rules 2, 7, 8, 13, 14): they refuse, or trigger
events; the application service loads, calls them and saves. Those of resets (rules 7, 8)
live in domain/resets.py, of sessions opening and closing (rules 2, 5) in domain/slots.py,
of access (rule 13) in domain/reach.py and of sync requests (rule 14) in
domain/sync_requests.py, mixed in; every event class stays here, where its
stored topic names it.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain import recent
from domain.reach import AccessCommands
from domain.resets import ResetCommands
from domain.slots import SessionCommands
from domain.sync_requests import RequestCommands
from domain.values import Context, emit, registration_id

# Rule 18: what support may change after registering.
SETTINGS = (
    "name",
    "sync_interval_minutes",
    "stuck_after_minutes",
    "auto_remove_stuck_after_minutes",
    "approvals_required",
)


class Registration(SessionCommands, AccessCommands, RequestCommands, ResetCommands, Aggregate):
    # v2: "most recent" kept per domain/recent.py (`recent` + `truncated`, no hidden copy).
    # v3: `holder` and `grants` (rule 13).
    class_version = 3

    # Rules 16 and 17, opt-in (class-level defaults: registrations recorded before these
    # settings existed load with them off). Changed only by SettingsChanged (rule 18).
    auto_remove_stuck_after_minutes: int | None = None
    approvals_required: bool = False

    class Event(Aggregate.Event):
        class_version = 1
        actor: str
        correlation_id: str

    class Registered(Aggregate.Created, Event):
        class_version = 1
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

    def session_in_progress(self, sync_type: str) -> str | None:
        """The session of this type in progress and not removed (rule 2), if any."""
        entry = self.open_sessions.get(sync_type)
        return entry[0] if entry else None

    def most_recent(self, sync_type: str) -> str | None:
        """The most recent not-removed session of a type (rule 5; domain/recent.py)."""
        return recent.most_recent(self.recent, sync_type, self.reset_cutoff)

    def settings(self) -> dict[str, Any]:
        """The settings support may change (rule 18)."""
        return {name: getattr(self, name) for name in SETTINGS}

    # --- command methods -----------------------------------------------------------

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

    # --- events ----------------------------------------------------------------------

    class SessionOpened(Event):
        class_version = 1
        session_id: str
        sync_type: str
        seq: int

        def apply(self, reg: Registration) -> None:
            reg.session_seq = self.seq
            reg.open_sessions[self.sync_type] = [self.session_id, self.seq]
            recent.push(reg.recent, reg.truncated, self.sync_type, self.session_id, self.seq)

    class SessionClosed(Event):
        class_version = 1
        session_id: str
        sync_type: str
        status: str

        def apply(self, reg: Registration) -> None:
            if reg.session_in_progress(self.sync_type) == self.session_id:
                del reg.open_sessions[self.sync_type]

    class SessionRemoved(Event):
        """Companion of a session deletion: frees its slot and its place in history."""

        class_version = 1
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

        class_version = 1
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

        class_version = 1
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

        class_version = 1
        reset_version: int
        sessions_up_to_seq: int
        receipts: int | None

    class ResetUndone(Event):
        """Rule 8: the restoring event of a reset.

        v2 dropped `restored_recent`: v1 carried the reset-hidden "most recent" stacks back,
        which the aggregate stopped keeping (domain/recent.py) and always stored empty.
        """

        class_version = 2
        chain: str
        undo_of: int
        reason: str
        reopened: list[list[Any]]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state.pop("restored_recent", None)

        def apply(self, reg: Registration) -> None:
            state = reg.resets[self.chain]
            state["active"] = False
            state["last_version"] = self.originator_version
            for session_id, sync_type, seq in self.reopened:
                reg.open_sessions[sync_type] = [session_id, seq]
                reg.dormant.pop(session_id, None)

    class SyncRequested(Event):
        class_version = 1
        request_id: str
        kind: str
        confirmed: bool

        def apply(self, reg: Registration) -> None:
            reg.pending_requests[self.request_id] = self.kind

    class SyncRequestFulfilled(Event):
        class_version = 1
        request_id: str
        session_id: str

        def apply(self, reg: Registration) -> None:
            reg.pending_requests.pop(self.request_id, None)

    class SyncRequestCancelled(Event):
        """Rule 14: support withdrew a pending request."""

        class_version = 1
        request_id: str
        reason: str

        def apply(self, reg: Registration) -> None:
            reg.pending_requests.pop(self.request_id, None)

    class HolderClaimed(Event):
        """Rule 13: the first worker to register a registration nobody held now holds it."""

        class_version = 1
        token_name: str

        def apply(self, reg: Registration) -> None:
            reg.holder = self.token_name

    class AccessGranted(Event):
        """Rule 13: support let another worker token reach the registration."""

        class_version = 1
        token_name: str
        reason: str | None = None

        def apply(self, reg: Registration) -> None:
            at = self.timestamp.isoformat()
            reg.grants = {**reg.grants, self.token_name: [self.actor, at]}

    class AccessRevoked(Event):
        """Rule 13: support took a grant back."""

        class_version = 1
        token_name: str
        reason: str | None = None

        def apply(self, reg: Registration) -> None:
            reg.grants = {k: v for k, v in reg.grants.items() if k != self.token_name}

    class SettingsChanged(Event):
        """Rule 18: support changed settings (`changes`: the new values only)."""

        class_version = 1
        changes: dict[str, Any]
        previous: dict[str, Any]

        def apply(self, reg: Registration) -> None:
            for name, value in self.changes.items():
                setattr(reg, name, value)
