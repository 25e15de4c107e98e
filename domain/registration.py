"""The registration aggregate: one sync "bucket" (product + file_id).

Its state stays bounded however long its history grows (so loading it stays flat):
the open session of each sync type, a short stack of recent sessions per type (for the
"most recent" check of rule 5), pending sync requests and the chains of resets. Session
details, records and errors live on each session's own aggregate (domain/session.py).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.values import RECENT_SESSIONS_KEPT, registration_id


class Registration(Aggregate):
    class Event(Aggregate.Event):
        actor: str
        correlation_id: str

    class Registered(Aggregate.Created, Event):
        product: str
        file_id: str
        name: str
        sync_interval_minutes: int
        stuck_after_minutes: int

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
    ) -> None:
        self.product = product
        self.file_id = file_id
        self.name = name
        self.sync_interval_minutes = sync_interval_minutes
        self.stuck_after_minutes = stuck_after_minutes
        self.session_seq = 0
        # sync_type -> [session_id, seq] of the session in progress (rule 2).
        self.open_sessions: dict[str, list[Any]] = {}
        # sync_type -> [[session_id, seq], ...] oldest first, not removed, bounded.
        self.recent: dict[str, list[list[Any]]] = {}
        self.pending_requests: dict[str, str] = {}
        # session_id -> [sync_type, seq]: in progress when a reset hid it; reopens when no
        # reset in force covers it any more.
        self.dormant: dict[str, list[Any]] = {}
        # Like `recent`, for sessions hidden by resets: what an undone reset gives back.
        self.hidden_recent: dict[str, list[list[Any]]] = {}
        # chain id (version of the original reset) -> its state; see reset_cutoff.
        self.resets: dict[str, dict[str, Any]] = {}

    @classmethod
    def register(
        cls,
        *,
        product: str,
        file_id: str,
        name: str,
        sync_interval_minutes: int,
        stuck_after_minutes: int,
        actor: str,
        correlation_id: str,
    ) -> Registration:
        return cls._create(
            cls.Registered,
            id=registration_id(product, file_id),
            product=product,
            file_id=file_id,
            name=name,
            sync_interval_minutes=sync_interval_minutes,
            stuck_after_minutes=stuck_after_minutes,
            actor=actor,
            correlation_id=correlation_id,
        )

    # --- derived state -------------------------------------------------------------

    @property
    def reset_cutoff(self) -> int:
        """Sessions with seq at or below this are removed by a reset still in force."""
        return max((c["cutoff"] for c in self.resets.values() if c["active"]), default=0)

    def open_session(self, sync_type: str) -> str | None:
        entry = self.open_sessions.get(sync_type)
        return entry[0] if entry else None

    def is_open(self, session_id: str, sync_type: str) -> bool:
        return self.open_session(sync_type) == session_id

    def is_most_recent(self, session_id: str, sync_type: str) -> bool:
        stack = self.recent.get(sync_type) or []
        return bool(stack) and stack[-1][0] == session_id

    # --- events ----------------------------------------------------------------------

    class SessionOpened(Event):
        session_id: str
        sync_type: str
        seq: int

        def apply(self, reg: Registration) -> None:
            reg.session_seq = self.seq
            reg.open_sessions[self.sync_type] = [self.session_id, self.seq]
            reg._push_recent(self.sync_type, self.session_id, self.seq)

    class SessionClosed(Event):
        session_id: str
        sync_type: str
        status: str

        def apply(self, reg: Registration) -> None:
            if reg.is_open(self.session_id, self.sync_type):
                del reg.open_sessions[self.sync_type]

    class SessionRemoved(Event):
        """Companion of a session deletion: frees its slot and its place in history."""

        session_id: str
        sync_type: str

        def apply(self, reg: Registration) -> None:
            if reg.is_open(self.session_id, self.sync_type):
                del reg.open_sessions[self.sync_type]
            stack = reg.recent.get(self.sync_type, [])
            reg.recent[self.sync_type] = [e for e in stack if e[0] != self.session_id]

    class SessionReinstated(Event):
        """Companion of an undone deletion: the session is back in history (and open)."""

        session_id: str
        sync_type: str
        seq: int
        reopen: bool

        def apply(self, reg: Registration) -> None:
            if self.reopen:
                reg.open_sessions[self.sync_type] = [self.session_id, self.seq]
            reg._merge_recent({self.sync_type: [[self.session_id, self.seq]]})

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
            hidden = {
                t: [e for e in stack if e[1] <= self.cutoff] for t, stack in reg.recent.items()
            }
            _merge_stacks(reg.hidden_recent, hidden)
            reg.recent = {
                t: kept
                for t, stack in reg.recent.items()
                if (kept := [e for e in stack if e[1] > self.cutoff])
            }

    class ReceiptsUnsynced(Event):
        """The compensating unsync of a reset, readable on its own by an auditor."""

        reset_version: int
        sessions_up_to_seq: int
        receipts: int | None

    class ResetUndone(Event):
        """Rule 8: the restoring event of a reset."""

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
            reg._merge_recent(self.restored_recent)
            for sync_type, entries in self.restored_recent.items():
                back = {e[0] for e in entries}
                kept = [e for e in reg.hidden_recent.get(sync_type, []) if e[0] not in back]
                if kept:
                    reg.hidden_recent[sync_type] = kept
                else:
                    reg.hidden_recent.pop(sync_type, None)

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

    # --- helpers ---------------------------------------------------------------------

    def _push_recent(self, sync_type: str, session_id: str, seq: int) -> None:
        stack = self.recent.setdefault(sync_type, [])
        stack.append([session_id, seq])
        del stack[:-RECENT_SESSIONS_KEPT]

    def _merge_recent(self, entries: dict[str, list[list[Any]]]) -> None:
        _merge_stacks(self.recent, entries)


def _merge_stacks(stacks: dict[str, list[list[Any]]], entries: dict[str, list[list[Any]]]) -> None:
    """Merge [session_id, seq] entries into per-type stacks, oldest first, bounded."""
    for sync_type, added in entries.items():
        if not added:
            continue
        known = {e[0] for e in stacks.get(sync_type, [])}
        merged = stacks.get(sync_type, []) + [e for e in added if e[0] not in known]
        merged.sort(key=lambda e: e[1])
        stacks[sync_type] = merged[-RECENT_SESSIONS_KEPT:]
