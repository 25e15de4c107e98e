"""Set-based liveness queries (rules 15, 16): counts for /metrics, candidates for the
background tasks. They only narrow: the domain's own rules decide on each candidate."""

from __future__ import annotations

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


def unflagged_stuck(tx: Tx, now: int, limit: int) -> list[tuple[str, str]]:
    """Stuck sessions whose current spell is not flagged yet (rule 15):
    (registration_id, session_id), oldest activity first."""
    rows = tx.q(
        "SELECT s.registration_id, s.session_id "
        "FROM view_sessions s JOIN view_registrations r ON r.id = s.registration_id "
        "LEFT JOIN view_stuck_flags f ON f.agg_id = s.agg_id "
        f"WHERE {LIVE} AND {STUCK} AND (f.since IS NULL OR f.since <> s.last_activity_at) "
        "ORDER BY s.last_activity_at LIMIT ?",
        (now, limit),
    )
    return [(str(a), str(b)) for a, b in rows]


def due_for_self_healing(tx: Tx, now: int, limit: int) -> list[tuple[str, str]]:
    """Sessions of opted-in registrations idle past auto_remove_stuck_after_minutes, with
    no records (rule 16 narrows to what rule 5 could allow; the domain decides)."""
    rows = tx.q(
        "SELECT s.registration_id, s.session_id "
        "FROM view_registration_settings o "
        "JOIN view_sessions s ON s.registration_id = o.id "
        "JOIN view_registrations r ON r.id = s.registration_id "
        f"WHERE o.auto_remove_stuck_after_minutes IS NOT NULL AND {LIVE} AND {STUCK} "
        "AND s.records_synced = 0 "
        f"AND s.last_activity_at < ? - o.auto_remove_stuck_after_minutes * {MICROS_PER_MINUTE} "
        "ORDER BY s.last_activity_at LIMIT ?",
        (now, now, limit),
    )
    return [(str(a), str(b)) for a, b in rows]


def approvals_to_expire(tx: Tx, now: int, limit: int) -> list[str]:
    """Pending approvals past their expiry (rule 17)."""
    rows = tx.q(
        "SELECT id FROM view_approvals WHERE status = 'pending' AND expires_at <= ? "
        "ORDER BY expires_at LIMIT ?",
        (now, limit),
    )
    return [str(r[0]) for r in rows]
