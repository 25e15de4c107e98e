"""Liveness and settings commands: heartbeats and the stuck flag (rule 15), self-healing
(rule 16), registration settings (rule 18).

The background tasks of serve find candidates with set-based queries on the read models;
these commands decide on the aggregates (the rule decides, the query only narrows), under
the unit of work's optimistic concurrency: when several serve processes act on the same
stuck session at once, one saves and the others, retried on fresh state, find nothing to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from domain import validation as v
from domain.errors import ValidationFailed
from domain.liveness import due_for_self_healing, is_stuck, to_micros
from domain.policy import check_deletion, is_removed
from domain.registration import SETTINGS, Registration
from domain.results import SessionDeleted
from domain.session import Session
from domain.undo import Undo
from domain.unit_of_work import Pending
from domain.values import Context

# The ledger's own actor (rules 15, 16): what it records by itself is stamped with this.
SYSTEM_ACTOR = "syncledger"


@dataclass(frozen=True)
class HeartbeatRecorded:
    last_activity_at: datetime
    position: int


@dataclass(frozen=True)
class SettingsChanged:
    changed: dict[str, Any]
    position: int


def system_context() -> Context:
    return Context.system(SYSTEM_ACTOR)


def session_is_stuck(reg: Registration, session: Session, now: datetime) -> bool:
    """Rule 15 on the aggregates (domain/liveness.py holds the predicate)."""
    return is_stuck(
        status=session.status,
        removed=is_removed(reg, session),
        last_activity_at=to_micros(session.last_activity_at),
        stuck_after_minutes=reg.stuck_after_minutes,
        now=to_micros(now),
    )


class Lifecycle(Undo):
    def heartbeat(self, ctx: Context, rid: UUID, session_id: str) -> HeartbeatRecorded:
        """Rule 15: renew an in-progress session (SessionNotInProgress otherwise)."""

        def command(pending: Pending) -> HeartbeatRecorded:
            reg = self.load_registration(rid)
            session = self.load_session(rid, session_id)
            session.heartbeat(ctx, cutoff=reg.reset_cutoff)
            pending.add(session)
            return HeartbeatRecorded(session.last_activity_at, position=0)

        return self.run(rid, command)

    def flag_stuck(self, rid: UUID, session_id: str, *, now: datetime) -> int | None:
        """Rule 15: record SessionFlaggedStuck once per stuck spell; the position, or None
        when the session is not stuck (any more) or this spell is already flagged."""
        ctx = system_context()

        def command(pending: Pending) -> int | None:
            reg = self.load_registration(rid)
            session = self.load_session(rid, session_id)
            if not session_is_stuck(reg, session, now):
                return None
            if not session.flag_stuck(ctx, stuck_after_minutes=reg.stuck_after_minutes):
                return None
            pending.add(session)
            return 0

        return self.run(rid, command)

    def self_heal(self, rid: UUID, session_id: str, *, now: datetime) -> SessionDeleted | None:
        """Rule 16: delete a session idle for auto_remove_stuck_after_minutes that passes
        all three checks of rule 5 — exactly the deletion support would make (audited,
        undoable), never with override. None when the rule does not apply (any more)."""
        ctx = system_context()

        def command(pending: Pending) -> SessionDeleted | None:
            reg = self.load_registration(rid)
            session = self.load_session(rid, session_id)
            minutes = reg.auto_remove_stuck_after_minutes
            due = due_for_self_healing(
                stuck=session_is_stuck(reg, session, now),
                last_activity_at=to_micros(session.last_activity_at),
                auto_remove_after_minutes=minutes,
                now=to_micros(now),
            )
            if not due:
                return None
            check = check_deletion(reg, session)
            if not check.safe:
                return None  # rule 16: never with override; support decides those
            since = session.last_activity_at.strftime("%Y-%m-%d %H:%M UTC")
            reason = (
                f"Removed automatically by the ledger: no activity since {since}, more than "
                f"{minutes} minutes (auto_remove_stuck_after_minutes), and all three deletion "
                "checks passed (no records synced, in progress, most recent of its type)."
            )
            unsynced = self.delete(ctx, reg, session, reason, False, None, check, None)
            pending.add(reg, session)
            return SessionDeleted(unsynced=unsynced, position=0)

        return self.run(rid, command)

    def update_settings(self, ctx: Context, rid: UUID, wanted: dict[str, Any]) -> SettingsChanged:
        """Rule 18: support changes settings; one event for what differs, none if nothing."""
        unknown = sorted(set(wanted) - set(SETTINGS))
        if unknown:
            raise ValidationFailed(
                f"Unknown setting(s): {', '.join(unknown)}; settings are {', '.join(SETTINGS)}.",
                field=unknown[0],
            )
        if "name" in wanted:
            v.text("name", wanted["name"], v.MAX_NAME_LENGTH)
        for field in ("sync_interval_minutes", "stuck_after_minutes"):
            if field in wanted:
                v.minutes(field, wanted[field])
        if wanted.get("auto_remove_stuck_after_minutes") is not None:
            v.minutes("auto_remove_stuck_after_minutes", wanted["auto_remove_stuck_after_minutes"])
        if "approvals_required" in wanted and not isinstance(wanted["approvals_required"], bool):
            raise ValidationFailed(
                "approvals_required must be true or false.", field="approvals_required"
            )

        def command(pending: Pending) -> SettingsChanged:
            reg = self.load_registration(rid)
            after = {**reg.settings(), **wanted}
            auto, stuck = after["auto_remove_stuck_after_minutes"], after["stuck_after_minutes"]
            if auto is not None and auto < stuck:
                raise ValidationFailed(
                    f"auto_remove_stuck_after_minutes ({auto}) must be at least "
                    f"stuck_after_minutes ({stuck}): only a stuck session is removed.",
                    field="auto_remove_stuck_after_minutes",
                    stuck_after_minutes=stuck,
                )
            changed = reg.change_settings(ctx, wanted)
            if not changed:
                return SettingsChanged({}, position=self.current_position())
            pending.add(reg)
            return SettingsChanged(changed, position=0)

        return self.run(rid, command)
