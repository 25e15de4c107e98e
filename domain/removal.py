"""The destructive commands: delete a session (rules 5, 6), reset a registration (rule 7),
and the dry run of a deletion, computed by the same code as the deletion (rule 19)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain import recent
from domain import validation as v
from domain.commands import Commands
from domain.errors import AlreadyDeleted, UnsafeDeletion, ValidationFailed
from domain.policy import DeletionCheck, check_deletion, is_removed
from domain.registration import Registration
from domain.results import DeletionPreview, RegistrationReset, SessionDeleted
from domain.session import Session
from domain.unit_of_work import Pending
from domain.unsync import unsynced_count, unsynced_records
from domain.values import Context, session_aggregate_id

DRY_RUN_RECORDS = 100


class Removal(Commands):
    def preview_deletion(
        self, rid: UUID, session_id: str, *, records: int = DRY_RUN_RECORDS
    ) -> DeletionPreview:
        """Exactly what deleting the session now would do; records nothing."""
        with self.lock(rid):
            reg = self.load_registration(rid)
            session = self.load_session(rid, session_id)
            check = check_deletion(reg, session)
            if is_removed(reg, session):
                return DeletionPreview(check=check, would_unsync=0, records=[])
            return DeletionPreview(
                check=check,
                would_unsync=unsynced_count(self, reg, session),
                records=unsynced_records(self, reg, session, records),
            )

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
        self.validate_deletion(reason, override, ticket)
        return self.run(
            rid,
            lambda pending: self.delete_in(
                pending, ctx, self.load_registration(rid), session_id, reason, override, ticket
            ),
        )

    @staticmethod
    def validate_deletion(reason: str, override: bool, ticket: str | None) -> None:
        v.text("reason", reason, v.MAX_TEXT_LENGTH)
        v.optional_text("ticket", ticket, v.MAX_NAME_LENGTH)
        if override and not (ticket and ticket.strip()):
            raise ValidationFailed(
                "Overriding the deletion check needs the ticket of the support instruction "
                "that allows it: pass `ticket`.",
                field="ticket",
            )

    def delete_in(
        self,
        pending: Pending,
        ctx: Context,
        reg: Registration,
        session_id: str,
        reason: str,
        override: bool,
        ticket: str | None,
    ) -> SessionDeleted:
        """The deletion command's body, run in the caller's unit of work (rules 5, 6)."""
        session = self.load_session(reg.id, session_id)
        self.refuse_if_removed(reg, session)
        check = check_deletion(reg, session)
        if not check.safe and not override:
            raise UnsafeDeletion(
                f"Session {session_id} is {check.explain()}. Only a stuck session is "
                "safe to delete; if Support instructed otherwise, pass override with "
                "their ticket.",
                failed_checks=list(check.failed_checks),
            )
        unsynced = self.delete(ctx, reg, session, reason, override, ticket, check, None)
        pending.add(reg, session)
        return SessionDeleted(unsynced=unsynced, position=0)

    @staticmethod
    def refuse_if_removed(reg: Registration, session: Session) -> None:
        if session.deleted is not None:
            raise AlreadyDeleted(
                f"Session {session.session_id} was already deleted by "
                f"{session.deleted['by']} ({session.deleted['reason']}).",
                session_id=session.session_id,
            )
        if is_removed(reg, session):
            raise AlreadyDeleted(
                f"Session {session.session_id} was already removed by a reset of this "
                "registration; undo the reset to bring it back.",
                session_id=session.session_id,
            )

    def delete(
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
        """Trigger the deletion, its compensating unsync and the registration's companion;
        return the receipts unsynced (the dry run's `would_unsync`: same function)."""
        unsynced = unsynced_count(self, reg, session)
        session.delete(
            ctx,
            reason=reason,
            ticket=ticket,
            override=override,
            failed_checks=list(check.failed_checks),
            undo_of=undo_of,
            unsynced=unsynced,
        )
        refill = None
        if reg.needs_refill(session.session_id, session.sync_type):
            history = self.events.get(reg.id, lte=reg.version)
            refill = recent.newest_not_deleted(history, session.sync_type, session.session_id)
        reg.remove_session(ctx, session.session_id, session.sync_type, refill)
        return unsynced

    def reset_registration(
        self, ctx: Context, rid: UUID, *, reason: str, confirm_file_id: str
    ) -> RegistrationReset:
        v.text("reason", reason, v.MAX_TEXT_LENGTH)

        def command(pending: Pending) -> RegistrationReset:
            reg = self.load_registration(rid)
            self.confirm_reset(reg, confirm_file_id)
            return self.reset_in(pending, ctx, reg, reason)

        return self.run(rid, command)

    @staticmethod
    def confirm_reset(reg: Registration, confirm_file_id: str) -> None:
        """Rule 7: the registration's file_id typed back."""
        if confirm_file_id != reg.file_id:
            raise ValidationFailed(
                "Resetting removes the history of every previous sync and makes every "
                "record sync again. To confirm, type the registration's file_id "
                f"exactly ({reg.file_id!r}) as confirm_file_id.",
                field="confirm_file_id",
            )

    def reset_in(
        self, pending: Pending, ctx: Context, reg: Registration, reason: str
    ) -> RegistrationReset:
        """The reset command's body, run in the caller's unit of work (rule 7)."""
        self.reset(ctx, reg, pending, reason, chain="", cutoff=reg.session_seq, undo_of=None)
        return RegistrationReset(reg.session_seq, None, position=0)

    def reset(
        self,
        ctx: Context,
        reg: Registration,
        pending: Pending,
        reason: str,
        *,
        chain: str,
        cutoff: int,
        undo_of: int | None,
    ) -> None:
        """Trigger a reset; its in-progress sessions record that it hid them (finding 2).

        The sessions are saved first, so the registration's two events stay the last two
        of the transaction (an audit position and `position - 1` name the reset)."""
        hidden = reg.reset(ctx, reason=reason, chain=chain, cutoff=cutoff, undo_of=undo_of)
        self.touch_sessions(ctx, reg, pending, hidden, chain or str(reg.version - 1), hide=True)
        pending.add(reg)

    def touch_sessions(
        self,
        ctx: Context,
        reg: Registration,
        pending: Pending,
        entries: list[list[Any]],
        chain: str,
        *,
        hide: bool,
    ) -> None:
        """Record on each in-progress session that a reset hid it or its undo reopened it."""
        for session_id, _sync_type, _seq in entries:
            session = self.load_session_by_id(session_aggregate_id(reg.id, session_id))
            if hide:
                session.hide_by_reset(ctx, chain)
            else:
                session.reopen_after_reset(ctx, chain)
            pending.add(session)
