"""Set-based liveness queries (rules 15, 16): counts for /metrics, candidates for the
background tasks. They only narrow: the domain's own rules decide on each candidate."""

from __future__ import annotations

from typing import Any

from domain.liveness import MICROS_PER_MINUTE
from projections.reads.sessions import NOT_REMOVED
from projections.store import Tx

# The SQL form of domain.liveness.stuck_cutoff, per registration (same comparison).
STUCK = f"s.last_activity_at < ? - r.stuck_after_minutes * {MICROS_PER_MINUTE}"
LIVE = f"s.status = 'in_progress' AND {NOT_REMOVED}"


def count_live_sessions(tx: Tx, now: int) -> tuple[int, int]:
    """(sessions in progress, of which stuck) over every registration."""
    row = tx.one(
        f"SELECT COUNT(*), COALESCE(SUM(CASE WHEN {STUCK} THEN 1 ELSE 0 END), 0) "
        "FROM view_sessions s JOIN view_registrations r ON r.id = s.registration_id "
        f"WHERE {LIVE}",
        (now,),
    )
    return (int(row[0]), int(row[1])) if row else (0, 0)


def stuck_sessions(tx: Tx, now: int, limit: int) -> list[tuple[Any, ...]]:
    """In-progress sessions idle past their registration's stuck_after_minutes:
    (registration_id, session_id, last_activity_at), oldest activity first."""
    return tx.q(
        "SELECT s.registration_id, s.session_id, s.last_activity_at "
        "FROM view_sessions s JOIN view_registrations r ON r.id = s.registration_id "
        f"WHERE {LIVE} AND {STUCK} ORDER BY s.last_activity_at LIMIT ?",
        (now, limit),
    )
