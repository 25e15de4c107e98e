"""Rule 17, four-eyes: with `approvals_required`, an override deletion or a reset becomes a
pending approval (domain/approval.py); a different support token approves it — the action is
then carried out in the same transaction, with both names on record — or rejects it.
Pending approvals expire after 24 hours (recorded by serve's background task)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError

from domain import validation as v
from domain.approval import Approval
from domain.errors import NotFound, ValidationFailed
from domain.lifecycle import Lifecycle, system_context
from domain.liveness import system_clock
from domain.policy import check_deletion
from domain.registration import Registration
from domain.results import RegistrationReset, SessionDeleted
from domain.unit_of_work import Pending
from domain.values import Context


@dataclass(frozen=True)
class ApprovalPending:
    """An action that waits for a second support token (answered 202)."""

    approval_id: str
    action: str
    position: int


@dataclass(frozen=True)
class ApprovalDecided:
    approval_id: str
    status: str
    result: dict[str, Any] | None
    position: int


class Approvals(Lifecycle):
    clock = staticmethod(system_clock)

    # --- the two actions that may need a second pair of eyes ---------------------------

    # Whether an action needs a second pair of eyes is read in the unit of work that acts
    # (never before it): a deletion saves the registration, so support turning
    # approvals_required on meanwhile makes that save conflict, and the command runs again
    # on fresh state and asks for an approval instead.

    def delete_session(  # type: ignore[override]
        self,
        ctx: Context,
        rid: UUID,
        session_id: str,
        *,
        reason: str,
        override: bool = False,
        ticket: str | None = None,
    ) -> SessionDeleted | ApprovalPending:
        self.validate_deletion(reason, override, ticket)
        approval_id = uuid4()

        def command(pending: Pending) -> SessionDeleted | ApprovalPending:
            reg = self.load_registration(rid)
            if override and reg.approvals_required:
                self.refuse_if_removed(reg, self.load_session(rid, session_id))
                return self._request(
                    pending, ctx, reg, approval_id, "delete", session_id, reason, ticket
                )
            return self.delete_in(pending, ctx, reg, session_id, reason, override, ticket)

        return self.run(rid, command)

    def reset_registration(  # type: ignore[override]
        self, ctx: Context, rid: UUID, *, reason: str, confirm_file_id: str
    ) -> RegistrationReset | ApprovalPending:
        v.text("reason", reason, v.MAX_TEXT_LENGTH)
        approval_id = uuid4()

        def command(pending: Pending) -> RegistrationReset | ApprovalPending:
            reg = self.load_registration(rid)
            self.confirm_reset(reg, confirm_file_id)
            if reg.approvals_required:
                return self._request(pending, ctx, reg, approval_id, "reset", None, reason, None)
            return self.reset_in(pending, ctx, reg, reason)

        return self.run(rid, command)

    def _request(
        self,
        pending: Pending,
        ctx: Context,
        reg: Registration,
        approval_id: UUID,
        action: str,
        session_id: str | None,
        reason: str,
        ticket: str | None,
    ) -> ApprovalPending:
        pending.add(
            Approval.request(
                ctx,
                approval_id=approval_id,
                registration_id=reg.id,
                action=action,
                session_id=session_id,
                reason=reason,
                ticket=ticket,
                now=self.clock(),
            )
        )
        return ApprovalPending(str(approval_id), action, position=0)

    # --- deciding ----------------------------------------------------------------------

    def get_approval(self, approval_id: str) -> Approval:
        try:
            approval: Approval = self.repository.get(UUID(v.uuid_text("id", approval_id)))
        except (AggregateNotFoundError, ValidationFailed):
            raise NotFound(f"No approval with id {approval_id}.", approval_id=approval_id) from None
        if not isinstance(approval, Approval):
            raise NotFound(f"No approval with id {approval_id}.", approval_id=approval_id)
        return approval

    def approve(
        self, ctx: Context, approval_id: str, *, reason: str | None = None
    ) -> ApprovalDecided:
        """Carry the action out, as the approver, with both names on the events."""
        if reason is not None:
            v.text("reason", reason, v.MAX_TEXT_LENGTH)
        rid = UUID(self.get_approval(approval_id).registration_id)

        def command(pending: Pending) -> ApprovalDecided:
            approval: Approval = self.load(UUID(approval_id))
            approval.ensure_decidable(ctx, self.clock())
            reg = self.load_registration(rid)
            why = (
                f"{approval.reason} (requested by {approval.requested_by}, approved by "
                f"{ctx.actor}{': ' + reason if reason else ''})"
            )
            pending.add(approval)  # first: the action's own events stay last
            result: dict[str, Any]
            if approval.action == "delete":
                assert approval.session_id is not None
                session = self.load_session(rid, approval.session_id)
                self.refuse_if_removed(reg, session)
                check = check_deletion(reg, session)
                unsynced = self.delete(ctx, reg, session, why, True, approval.ticket, check, None)
                pending.add(reg, session)
                result = {"deleted": True, "unsynced": unsynced, "session_id": approval.session_id}
            else:
                cutoff = reg.session_seq
                self.reset(ctx, reg, pending, why, chain="", cutoff=cutoff, undo_of=None)
                result = {"sessions_up_to_seq": cutoff}
            approval.approve(ctx, result)
            return ApprovalDecided(approval_id, "approved", result, position=0)

        return self.run(rid, command)

    def reject(
        self, ctx: Context, approval_id: str, *, reason: str | None = None
    ) -> ApprovalDecided:
        """Nothing is carried out; the rejection is recorded."""
        if reason is not None:
            v.text("reason", reason, v.MAX_TEXT_LENGTH)
        rid = UUID(self.get_approval(approval_id).registration_id)

        def command(pending: Pending) -> ApprovalDecided:
            approval: Approval = self.load(UUID(approval_id))
            approval.reject(ctx, reason, self.clock())
            pending.add(approval)
            return ApprovalDecided(approval_id, "rejected", None, position=0)

        return self.run(rid, command)

    def expire_approval(self, approval_id: str, *, now: datetime) -> int | None:
        """Rule 17: record that a pending approval ran out (actor syncledger); None if it
        is not pending or not yet due."""
        ctx = system_context()
        rid = UUID(self.get_approval(approval_id).registration_id)

        def command(pending: Pending) -> int | None:
            approval: Approval = self.load(UUID(approval_id))
            if not approval.expire(ctx, now):
                return None
            pending.add(approval)
            return 0

        return self.run(rid, command)
