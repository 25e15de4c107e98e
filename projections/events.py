"""Reading the event log in pages, decoded just enough for the views."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from projections.store import Tx


@dataclass(frozen=True, slots=True)
class Event:
    position: int
    originator_id: str
    version: int
    kind: str  # "Session.RecordsSynced", "Registration.Registered", ...
    state: dict[str, Any]
    at: int  # microseconds since the epoch (UTC)

    @property
    def actor(self) -> str:
        return str(self.state.get("actor", ""))


def to_micros(value: Any) -> int:
    if isinstance(value, dict):
        value = value.get("_data_")
    if isinstance(value, datetime):
        return int(value.timestamp() * 1_000_000)
    return int(datetime.fromisoformat(str(value)).timestamp() * 1_000_000)


def _kind(topic: str) -> str:
    return topic.rpartition(":")[2]


def read_page(tx: Tx, table: str, after: int, limit: int) -> list[Event]:
    """Up to `limit` events with position > `after`, in order."""
    if not tx.table_exists(table):
        return []
    pos = "notification_id" if tx.pg else "rowid"
    rows = tx.q(
        f"SELECT {pos}, originator_id, originator_version, topic, state FROM {table} "
        f"WHERE {pos} > ? ORDER BY {pos} LIMIT ?",
        (after, limit),
    )
    events = []
    for position, originator_id, version, topic, state in rows:
        data = orjson.loads(bytes(state))
        oid = str(originator_id) if isinstance(originator_id, UUID) else str(UUID(originator_id))
        events.append(
            Event(int(position), oid, int(version), _kind(topic), data,
                  to_micros(data["timestamp"]))
        )
    return events


def head(tx: Tx, table: str) -> int:
    if not tx.table_exists(table):
        return 0
    pos = "notification_id" if tx.pg else "rowid"
    row = tx.one(f"SELECT MAX({pos}) FROM {table}")
    return int(row[0]) if row and row[0] is not None else 0
