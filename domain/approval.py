"""Rule 17, four-eyes: the approval aggregate, one per request to act.

An override deletion or a reset of a registration with `approvals_required` becomes an
approval instead of being carried out. A different support token approves it (the action is
then carried out in the same transaction) or rejects it; pending approvals expire after
APPROVAL_TTL. Deciding is an event on this aggregate, so two deciders racing (another
token, another process, the expiry task) conflict on its version: exactly one decides.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import ApprovalNotPending, OwnApproval
from domain.values import Context, emit

APPROVAL_TTL = timedelta(hours=24)
ACTIONS = ("delete", "reset")


class Approval(Aggregate):
    class Event(Aggregate.Event):
        class_version = 1
        actor: str
        correlation_id: str

    class Requested(Aggregate.Created, Event):
        class_version = 1
        registration_id: str
        action: str
        session_id: str | None
        reason: str
        ticket: str | None
        expires_at: datetime

    def __init__(
        self,
        registration_id: str,
        action: str,
        session_id: str | None,
        reason: str,
        ticket: str | None,
        expires_at: datetime,
        actor: str,
    ) -> None:
        self.registration_id = registration_id
        self.action = action
        self.session_id = session_id
        self.reason = reason
        self.ticket = ticket
        self.expires_at = expires_at
        self.status = "pending"
        self.requested_by = actor  # the requesting token's name (rule 11)
        self.decided_by: str | None = None
        self.result: dict[str, Any] | None = None

    @classmethod
    def request(
        cls,
        ctx: Context,
        *,
        approval_id: UUID,
        registration_id: UUID,
        action: str,
        session_id: str | None,
        reason: str,
        ticket: str | None,
        now: datetime,
    ) -> Approval:
        return cls._create(
            cls.Requested,
            id=approval_id,
            registration_id=str(registration_id),
            action=action,
            session_id=session_id,
            reason=reason,
            ticket=ticket,
            expires_at=now + APPROVAL_TTL,
            actor=ctx.actor,
            correlation_id=ctx.correlation_id,
        )

    def expired(self, now: datetime) -> bool:
        return self.status == "pending" and now >= self.expires_at

    # --- command methods -----------------------------------------------------------

    def ensure_decidable(self, ctx: Context, now: datetime) -> None:
        """Pending, not past its expiry, and the decider is not the requester."""
        if self.status != "pending" or self.expired(now):
            status = "expired" if self.expired(now) else self.status
            raise ApprovalNotPending(
                f"Approval {self.id} is {status}; only a pending approval can be decided. "
                "Ask again if the action is still needed.",
                approval_id=str(self.id),
                status=status,
            )
        if ctx.actor == self.requested_by:
            raise OwnApproval(
                f"Approval {self.id} was requested by {ctx.actor}; a different support "
                "token must approve or reject it (four-eyes).",
                approval_id=str(self.id),
                requested_by=self.requested_by,
            )

    def approve(self, ctx: Context, result: dict[str, Any]) -> None:
        emit(self, ctx, self.Approved, requested_by=self.requested_by, result=result)

    def reject(self, ctx: Context, reason: str | None, now: datetime) -> None:
        self.ensure_decidable(ctx, now)
        emit(self, ctx, self.Rejected, requested_by=self.requested_by, reason=reason)

    def expire(self, ctx: Context, now: datetime) -> bool:
        """Record the expiry once it is due; False if not pending or not yet due."""
        if not self.expired(now):
            return False
        emit(self, ctx, self.Expired, expires_at=self.expires_at)
        return True

    # --- events --------------------------------------------------------------------

    class Approved(Event):
        """Carried out in the same transaction; `result` is what the action returned."""

        class_version = 1
        requested_by: str
        result: dict[str, Any]

        def apply(self, a: Approval) -> None:
            a.status = "approved"
            a.decided_by = self.actor
            a.result = self.result

    class Rejected(Event):
        class_version = 1
        requested_by: str
        reason: str | None

        def apply(self, a: Approval) -> None:
            a.status = "rejected"
            a.decided_by = self.actor

    class Expired(Event):
        class_version = 1
        expires_at: datetime

        def apply(self, a: Approval) -> None:
            a.status = "expired"
            a.decided_by = self.actor
