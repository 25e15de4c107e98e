"""What a small write answers: the state the command itself left, not the read models.

A register, start, complete or fail answers from the aggregate it has just saved (the
Ledger's cache: no query, no wait). Waiting for the read models to reflect the write
instead cost the round trip to the runner process (SQLite) or a page of view queries
(PostgreSQL) - most of a small write's time (issue 16). The answer carries the write's
`position`; a client that then reads (the worker status, a session's error messages, the
counts of a registration that existed before) passes it as `min_position` and reads its
own write (docs/api.md, "Reading your own writes").
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from api.services import Services
from domain.liveness import to_micros


def registration_written(
    services: Services, rid: UUID, position: int, *, created: bool = False
) -> dict[str, Any]:
    """A registration as the Ledger holds it. A new one has no session and no receipt yet,
    so its counts are known without the views; the worker status is a read's."""
    reg = services.ledger.registration_state(rid)
    body: dict[str, Any] = {
        "id": str(rid),
        "product": reg.product,
        "file_id": reg.file_id,
        "name": reg.name,
        "sync_interval_minutes": reg.sync_interval_minutes,
        "stuck_after_minutes": reg.stuck_after_minutes,
        "created_at": reg.created_on,
        "auto_remove_stuck_after_minutes": reg.auto_remove_stuck_after_minutes,
        "approvals_required": bool(reg.approvals_required),
        "position": position,
    }
    if created:
        body.update(
            total_syncs=0,
            sessions_in_progress=0,
            stuck_sessions=0,
            receipts=0,
            last_updated=reg.created_on,
        )
    return body


def session_written(services: Services, rid: UUID, sid: str, position: int) -> dict[str, Any]:
    """A session as the Ledger holds it after a start, complete or fail, with the rules'
    verdicts (removed, stuck, the deletion check) from their one definition in domain/.
    Its error messages are a read's (the aggregate keeps only their count)."""
    state = services.ledger.session_state(rid, sid, to_micros(services.clock()))
    s = state.session
    return {
        "id": s.session_id,
        "registration_id": str(rid),
        "seq": s.seq,
        "sync_type": s.sync_type,
        "status": s.status,
        "started_at": s.started_at,
        "ended_at": s.ended_at,
        "records_synced": s.records_synced,
        "error_count": s.error_count,
        "worker": s.worker,
        "entity_types": s.entity_types,
        "request_id": s.request_id,
        "stuck": state.stuck,
        # Ending a session is its last activity, as the session views record it.
        "last_activity_at": s.ended_at or s.last_activity_at,
        "fail_reason": s.fail_reason,
        "deletion_check": state.check.as_dict(),
        "position": position,
    }
