"""The immutable history of one registration, read straight from the event log."""

from __future__ import annotations

import sqlite3
from typing import Any
from uuid import UUID

import psycopg

from domain.infra.database import Database
from domain.infra.transcoder import OrjsonTranscoder
from domain.ledger import Ledger
from domain.registration import Registration
from domain.values import session_aggregate_id

_transcoder = OrjsonTranscoder()
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


def _rows(database: Database, ids: list[UUID], after: int, limit: int) -> list[tuple[Any, ...]]:
    if database.kind == "postgresql":
        sql = (
            "SELECT notification_id, originator_id, originator_version, topic, state "
            f'FROM "{database.schema}".syncledger_events '
            "WHERE originator_id = ANY(%s) AND notification_id > %s "
            "ORDER BY notification_id LIMIT %s"
        )
        with psycopg.connect(database.conninfo) as conn:
            return list(conn.execute(sql, (ids, after, limit)).fetchall())
    marks = ",".join("?" * len(ids))
    sql = (
        "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events "
        f"WHERE originator_id IN ({marks}) AND rowid > ? ORDER BY rowid LIMIT ?"
    )
    lite = sqlite3.connect(database.path, timeout=30)
    try:
        return lite.execute(sql, [i.hex for i in ids] + [after, limit]).fetchall()
    finally:
        lite.close()


def registration_events(
    ledger: Ledger, database: Database, rid: UUID, *, after: int, limit: int
) -> list[dict[str, Any]]:
    ids = aggregate_ids(ledger, rid)
    out = []
    for position, originator_id, version, topic, state in _rows(database, ids, after, limit):
        data = _transcoder.decode(bytes(state))
        out.append(
            {
                "position": position,
                "aggregate_id": str(UUID(str(originator_id))),
                "version": version,
                "type": topic.split(":", 1)[-1],
                "timestamp": data.get("timestamp"),
                "actor": data.get("actor"),
                "correlation_id": data.get("correlation_id"),
                "data": {k: v for k, v in data.items() if k not in META},
            }
        )
    return out
