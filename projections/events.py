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


def read_page(
    tx: Tx, table: str, after: int, limit: int, max_records: int | None = None
) -> list[Event]:
    """Up to `limit` events with position > `after`, in order.

    With `max_records`, the page ends with the event that brings the number of records
    (a RecordsSynced event counts its records, any other event 1) to `max_records`: events
    are read in growing chunks, so a page of big batches never reads far beyond its end.
    """
    if not tx.table_exists(table):
        return []
    pos = "notification_id" if tx.pg else "rowid"
    sql = tx.sql(
        f"SELECT {pos}, originator_id, originator_version, topic, state FROM {table} "
        f"WHERE {pos} > ? ORDER BY {pos} LIMIT ?"
    )
    # PostgreSQL: binary results (bytea arrives as bytes, not as hex text to decode).
    cur = tx.conn.cursor(binary=True) if tx.pg else tx.conn.cursor()
    events: list[Event] = []
    records = 0
    chunk = limit if max_records is None else min(limit, 16)
    try:
        while len(events) < limit:
            want = min(chunk, limit - len(events))
            rows = cur.execute(sql, (after, want)).fetchall()
            for position, originator_id, version, topic, state in rows:
                data = orjson.loads(state)
                oid = (
                    str(originator_id)
                    if isinstance(originator_id, UUID)
                    else str(UUID(originator_id))
                )
                events.append(
                    Event(
                        int(position),
                        oid,
                        int(version),
                        topic.rpartition(":")[2],
                        data,
                        to_micros(data["timestamp"]),
                    )
                )
                after = int(position)
                if max_records is not None:
                    found = data.get("records")
                    records += len(found) if isinstance(found, list) else 1
                    if records >= max_records:
                        return events
            if len(rows) < want:
                break
            chunk = min(chunk * 4, 1024)
    finally:
        cur.close()
    return events


def head_sql(tx: Tx, table: str) -> str:
    """A scalar subquery for the log's last position (an index's last key, not a scan)."""
    pos = "notification_id" if tx.pg else "rowid"
    return f"(SELECT MAX({pos}) FROM {table})"


def head(tx: Tx, table: str) -> int:
    if not tx.table_exists(table):
        return 0
    row = tx.one(f"SELECT {head_sql(tx, table)}")
    return int(row[0]) if row and row[0] is not None else 0
