"""Rule 8: undo a deletion, a reset, or an undo — through the same unit of work and
loader as every other command (finding 6: a failed save during an undo evicts what it
loaded, so a retry is decided on the stored state, never on a half-applied cached one)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain import validation as v
from domain.errors import NotFound, NotUndoable
from domain.policy import check_deletion
from domain.registration import Registration
from domain.removal import Removal
from domain.results import Undone
from domain.session import Session
from domain.unit_of_work import Pending
from domain.values import Context

# Both halves of a destructive action are saved in one transaction, within this many
# positions of each other.
ACTION_WINDOW = 64


class Undo(Removal):
    def undo(self, ctx: Context, position: int, *, reason: str) -> Undone:
        v.position("position", position)
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
            return self.run(
                rid, lambda p: self._undo_session_change(ctx, rid, event, position, reason, p)
            )
        if isinstance(event, Registration.RegistrationReset | Registration.ResetUndone):
            rid = event.originator_id
            return self.run(
                rid, lambda p: self._undo_reset_change(ctx, rid, event, position, reason, p)
            )
        raise NotUndoable(
            f"Position {position} is a {type(event).__qualname__} event; only session "
            "deletions, registration resets and undos can be undone.",
            position=position,
        )

    def _position_of(self, aggregate_id: UUID, version: int, near: int) -> int:
        """Position of an aggregate's event saved in the same transaction, just before `near`."""
        # One position at a time, nearest first (it is nearly always `near - 1`): a window
        # read at once could hold big batch events of that session.
        for position in range(near - 1, max(0, near - ACTION_WINDOW) - 1, -1):
            found = self.recorder.select_notifications(start=position, limit=1, stop=position)
            if (
                found
                and found[0].originator_id == aggregate_id
                and found[0].originator_version == version
            ):
                return position
        raise NotFound(f"The action recorded with position {near} could not be found.")

    def _session_registration(self, aggregate_id: UUID) -> str:
        # Outside the unit of work (the registration is not known yet): a read, never cached.
        first = next(iter(self.events.get(aggregate_id, limit=1)))
        assert isinstance(first, Session.Started)
        return first.registration_id

    def _undo_session_change(
        self, ctx: Context, rid: UUID, event: Any, position: int, reason: str, pending: Pending
    ) -> Undone:
        reg = self.load_registration(rid)
        session = self.load_session_by_id(event.originator_id)
        if session.last_change_version != event.originator_version:
            raise NotUndoable(
                f"Position {position} was already undone (or superseded by a later change "
                f"to session {session.session_id}).",
                position=position,
            )
        if session.seq <= reg.reset_cutoff:
            raise NotUndoable(
                f"Session {session.session_id} was also removed by a later reset of the "
                "registration; undo that reset first.",
                position=position,
            )
        if isinstance(event, Session.Deleted):
            # A deleted session's status cannot change, so it is its status before the
            # deletion (no replay of the session: that would hold every record it synced).
            reopen = session.in_progress
            reg.reinstate_session(
                ctx,
                session.session_id,
                session.sync_type,
                session.seq,
                reopen=reopen,
                position=position,
            )
            session.restore(ctx, undo_of=position, reason=reason, reopened=reopen)
            kind = "deletion"
        else:
            check = check_deletion(reg, session)
            self.delete(ctx, reg, session, reason, True, None, check, position)
            kind = "restoration"
        pending.add(reg, session)
        return Undone(position, kind, rid, session.session_id, position=0)

    def _undo_reset_change(
        self, ctx: Context, rid: UUID, event: Any, position: int, reason: str, pending: Pending
    ) -> Undone:
        reg = self.load_registration(rid)
        chain = event.chain or str(event.originator_version)
        state = reg.resets.get(chain)
        if state is None or state["last_version"] != event.originator_version:
            raise NotUndoable(
                f"Position {position} was already undone (or superseded by a later undo).",
                position=position,
            )
        if isinstance(event, Registration.RegistrationReset):
            reopened = reg.undo_reset(ctx, chain=chain, position=position, reason=reason)
            # Sessions first: the registration's ResetUndone stays the last event saved.
            self.touch_sessions(ctx, reg, pending, reopened, chain, hide=False)
            pending.add(reg)
            kind = "reset"
        else:
            self.reset(
                ctx, reg, pending, reason, chain=chain, cutoff=state["cutoff"], undo_of=position
            )
            kind = "reset_undo"
        return Undone(position, kind, rid, None, position=0)
