"""Rule 13, who may reach a registration: its holder (the worker token name that registered
it first) and the worker token names support granted access to.

The rule is the aggregate's (Registration.admit / grant / revoke_grant); these commands run
it in the unit of work, so a grant, a revocation and a register racing on one registration
are decided one after the other on fresh state. `side_writes` lets the API commit its
worker-scope rows with the events (domain/infra/recorders.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from uuid import UUID

from domain import validation as v
from domain.approvals import Approvals
from domain.infra.recorders import SideWrite
from domain.registration import Registration
from domain.unit_of_work import Pending
from domain.values import Context

SideWrites = Callable[[UUID], Sequence[SideWrite]]


@dataclass(frozen=True)
class Grant:
    token_name: str
    granted_by: str
    granted_at: str


@dataclass(frozen=True)
class GrantChanged:
    """`changed` is False when there was nothing to record (already granted)."""

    token_name: str
    changed: bool
    position: int


@dataclass(frozen=True)
class Access:
    holder: str | None
    grants: list[Grant]


class AccessCommands(Approvals):
    def access(self, rid: UUID) -> Access:
        """The holder and the grants of a registration, by token name."""
        reg = self.get_registration(rid)
        grants = [Grant(name, by, at) for name, (by, at) in sorted(reg.grants.items())]
        return Access(reg.holder, grants)

    def grant_access(
        self,
        ctx: Context,
        rid: UUID,
        token_name: str,
        *,
        reason: str | None = None,
        side_writes: SideWrites | None = None,
    ) -> GrantChanged:
        """Let a worker token reach the registration (changed False: it already could)."""
        return self._change_access(
            rid, token_name, reason, side_writes, lambda reg: reg.grant(ctx, token_name, reason)
        )

    def revoke_access(
        self,
        ctx: Context,
        rid: UUID,
        token_name: str,
        *,
        reason: str | None = None,
        side_writes: SideWrites | None = None,
    ) -> GrantChanged:
        """Take a grant back (NotFound when that name has none)."""

        def revoke(reg: Registration) -> bool:
            reg.revoke_grant(ctx, token_name, reason)
            return True

        return self._change_access(rid, token_name, reason, side_writes, revoke)

    def _change_access(
        self,
        rid: UUID,
        token_name: str,
        reason: str | None,
        side_writes: SideWrites | None,
        change: Callable[[Registration], bool],
    ) -> GrantChanged:
        v.text("token_name", token_name, v.MAX_NAME_LENGTH)
        v.optional_text("reason", reason, v.MAX_TEXT_LENGTH)

        def command(pending: Pending) -> GrantChanged:
            reg = self.load_registration(rid)
            if not change(reg):
                return GrantChanged(token_name, False, self.current_position())
            if side_writes is not None:
                pending.side_writes += side_writes(rid)
            pending.add(reg)
            return GrantChanged(token_name, True, position=0)

        return self.run(rid, command)
