"""What a session deletion unsynced, read back from the log alone (for auditors).

A deletion's `ReceiptsUnsynced` event records how many receipts it unsynced, not which: an
event must not grow with the session (issue 10, finding 9). The records are derivable: the
deleted session's own records (its `RecordsSynced` events before the deletion, newest
digest each) minus those a newer session (higher seq) not deleted at that moment had synced
before it — the same rule the domain applies when it deletes (domain/unsync.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from domain.infra.database import Database
from domain.values import Record, session_aggregate_id
from replay.eventdata import decode_state, event_type
from replay.store import open_store


@dataclass(frozen=True)
class DeletionUnsynced:
    registration_id: UUID
    session_id: str
    records: list[Record]


def unsynced_by_deletion(database: Database, position: int) -> list[Record]:
    """The records the deletion at `position` (its `Deleted` or `ReceiptsUnsynced` event)
    unsynced, in first-sync order. ValueError if no deletion is recorded there."""
    return deletion_unsynced(database, position).records


def deletion_unsynced(database: Database, position: int) -> DeletionUnsynced:
    """unsynced_by_deletion(), with the registration and the session deleted."""
    with open_store(database) as store:
        found = next(store.event_pages(position, position, 1), [])
        if not found or event_type(found[0][3]) not in (
            "Session.Deleted",
            "Session.ReceiptsUnsynced",
        ):
            raise ValueError(f"no session deletion at position {position}")
        session_id = UUID(found[0][1])
        own = store.events_of([session_id], position)
        started = decode_state(own[0][4])
        rid, seq = UUID(str(started["registration_id"])), int(started["seq"])
        opened = [
            decode_state(e[4])
            for e in store.events_of([rid], position)
            if event_type(e[3]) == "Registration.SessionOpened"
        ]
        newer = [session_aggregate_id(rid, str(d["session_id"])) for d in opened if d["seq"] > seq]
        superseding: set[tuple[str, str]] = set()
        by_session: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for _, oid, _, topic, state in store.events_of(newer, position):
            kind = event_type(topic)
            if kind in ("Session.RecordsSynced", "Session.Deleted", "Session.Restored"):
                by_session.setdefault(oid, []).append((kind, decode_state(state)))
        for events in by_session.values():
            deleted = False
            keys: set[tuple[str, str]] = set()
            for kind, data in events:
                if kind == "Session.RecordsSynced":
                    keys.update((et, key) for et, key, _ in data["records"])
                else:
                    deleted = kind == "Session.Deleted"
            if not deleted:
                superseding |= keys
        latest: dict[tuple[str, str], str] = {}
        for _, _, _, topic, state in own:
            if event_type(topic) == "Session.RecordsSynced":
                for et, key, digest in decode_state(state)["records"]:
                    latest[(et, key)] = digest
    records = [(et, key, d) for (et, key), d in latest.items() if (et, key) not in superseding]
    return DeletionUnsynced(rid, str(started["session_id"]), records)
