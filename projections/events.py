"""Reading the event log in pages, decoded just enough for the views.

Rows come from the one event-log reader (`domain.infra.eventlog`), on the caller's
transaction so the views see the log and their own tables in one snapshot; states are
decoded on its fast path (plain orjson, escaped user dicts unwrapped, upcast).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.infra.eventlog import DECODER, EventLog, event_type
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


def read_page(tx: Tx, after: int, limit: int, max_records: int | None = None) -> list[Event]:
    """Up to `limit` events with position > `after`, in order (see `read_events`)."""
    return read_events(tx, after, limit, max_records)[0]


def read_events(
    tx: Tx, after: int, limit: int, max_records: int | None = None, *, known_table: bool = False
) -> tuple[list[Event], bool]:
    """Up to `limit` events with position > `after`, in order, and whether they end at the
    head of the log (the last read came back short: nothing later was committed when it ran).

    With `max_records`, the page ends with the event that brings the number of records
    (a RecordsSynced event counts its records, any other event 1) to `max_records`: events
    are read in growing chunks, so a page of big batches never reads far beyond its end.
    `known_table`: the caller has seen the events table before (it is never dropped), so
    the look-up that tells an empty database apart is skipped.
    """
    log = EventLog(tx.conn, tx.kind)
    if not known_table and not log.exists():
        return [], True
    raw_state = DECODER.raw_state
    events: list[Event] = []
    records = 0
    chunk = limit if max_records is None else min(limit, 16)
    while len(events) < limit:
        want = min(chunk, limit - len(events))
        rows = log.after(after, want)
        for position, originator_id, version, topic, state in rows:
            data = raw_state(topic, state)
            events.append(
                Event(
                    position,
                    str(UUID(hex=originator_id)),
                    version,
                    event_type(topic),
                    data,
                    to_micros(data["timestamp"]),
                )
            )
            after = position
            if max_records is not None:
                found = data.get("records")
                records += len(found) if isinstance(found, list) else 1
                if records >= max_records:
                    return events, False
        if len(rows) < want:
            return events, True
        chunk = min(chunk * 4, 1024)
    return events, False


def head_sql(tx: Tx) -> str:
    """A scalar subquery for the log's last position (an index's last key, not a scan)."""
    return EventLog(tx.conn, tx.kind).max_position_sql()


def head(tx: Tx) -> int:
    """The position of the newest event (0 for an empty log)."""
    return EventLog(tx.conn, tx.kind).max_position()
