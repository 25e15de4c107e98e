"""The immutable history of one registration, read straight from the event log."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.infra.database import Database
from domain.infra.eventlog import DECODER, EventLog, event_type
from domain.ledger import Ledger
from domain.registration import Registration
from domain.values import session_aggregate_id

META = (
    "originator_id",
    "originator_version",
    "timestamp",
    "actor",
    "correlation_id",
    "originator_topic",
)


def aggregate_ids(ledger: Ledger, rid: UUID) -> list[UUID]:
    """The registration aggregate and every session it ever opened."""
    ids = [rid]
    seen: set[str] = set()
    for event in ledger.events.get(rid):
        if isinstance(event, Registration.SessionOpened) and event.session_id not in seen:
            seen.add(event.session_id)
            ids.append(session_aggregate_id(rid, event.session_id))
    return ids


def registration_events(
    ledger: Ledger, database: Database, rid: UUID, *, after: int, limit: int
) -> list[dict[str, Any]]:
    ids = aggregate_ids(ledger, rid)
    with EventLog.open(database) as log:
        rows = log.of_aggregates(ids, after=after, limit=limit)
    out = []
    for position, originator_id, version, topic, state in rows:
        data = DECODER.state(topic, state)
        out.append(
            {
                "position": position,
                "aggregate_id": str(UUID(hex=originator_id)),
                "version": version,
                "type": event_type(topic),
                "timestamp": data.get("timestamp"),
                "actor": data.get("actor"),
                "correlation_id": data.get("correlation_id"),
                "data": {k: v for k, v in data.items() if k not in META},
            }
        )
    return out
