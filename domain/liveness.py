"""Rules 15 and 16: when a session is stuck, and when the ledger may remove it itself.

Defined once here (rule 19). Times are microseconds since the epoch (UTC), the unit the
read models store, so the SQL that narrows candidates (`last_activity_at < cutoff`) and
this predicate are the same comparison.
"""

from __future__ import annotations

from datetime import UTC, datetime

MICROS_PER_MINUTE = 60_000_000


def system_clock() -> datetime:
    """The real time. Time-based rules take a clock argument so tests can move time."""
    return datetime.now(UTC)


def to_micros(at: datetime) -> int:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return int(at.timestamp() * 1_000_000)


def stuck_cutoff(now: int, stuck_after_minutes: int) -> int:
    """A session whose last activity is before this instant is stuck (rule 15)."""
    return now - int(stuck_after_minutes) * MICROS_PER_MINUTE


def is_stuck(
    *, status: str, removed: bool, last_activity_at: int, stuck_after_minutes: int, now: int
) -> bool:
    """Rule 15: in progress, still in the history, and nothing renewed it for
    `stuck_after_minutes` (every write to a session, including a heartbeat, renews it)."""
    return (
        status == "in_progress"
        and not removed
        and last_activity_at < stuck_cutoff(now, stuck_after_minutes)
    )


def due_for_self_healing(
    *, stuck: bool, last_activity_at: int, auto_remove_after_minutes: int | None, now: int
) -> bool:
    """Rule 16 (timing half): opted in and idle for `auto_remove_stuck_after_minutes`.

    The other half — all three checks of rule 5 — is decided by the deletion itself.
    """
    return (
        stuck
        and auto_remove_after_minutes is not None
        and last_activity_at < stuck_cutoff(now, auto_remove_after_minutes)
    )
