"""What a session deletion or a registration reset unsynced, read back from the log alone
(for auditors).

A deletion's `ReceiptsUnsynced` event records how many receipts it unsynced, not which: an
event must not grow with the session (issue 10, finding 9). The records are derivable: the
deleted session's own records (its `RecordsSynced` events before the deletion, newest
digest each) minus those a newer session (higher seq) not deleted at that moment had synced
before it — the same rule the domain applies when it deletes (domain/unsync.py).

A reset records its cutoff (`sessions_up_to_seq`), not the receipts: it unsynced every
current receipt that came from a session with seq up to the cutoff. The current receipt of a
record is its newest sync (by session seq, then position) among the sessions not removed
just before the reset — not deleted, and above the cutoff of any earlier reset in force —
as projections/views/receipts.py keeps it.
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


@dataclass(frozen=True)
class ResetUnsynced:
    registration_id: UUID
    cutoff: int
    records: list[Record]


def reset_unsynced(database: Database, position: int) -> ResetUnsynced:
    """The receipts the reset at `position` (its `RegistrationReset` or companion
    `ReceiptsUnsynced` event) unsynced, oldest receipt first. ValueError if no reset is
    recorded there."""
    with open_store(database) as store:
        found = next(store.event_pages(position, position, 1), [])
        kind = event_type(found[0][3]) if found else ""
        if kind not in ("Registration.RegistrationReset", "Registration.ReceiptsUnsynced"):
            raise ValueError(f"no registration reset at position {position}")
        rid = UUID(found[0][1])
        history = store.events_of([rid], position)
        if kind == "Registration.ReceiptsUnsynced":  # its reset is the event before it
            reset_version = int(decode_state(history[-1][4])["reset_version"])
            history = [e for e in history if e[2] <= reset_version]
        reset = decode_state(history[-1][4])
        cutoff, before = int(reset["cutoff"]), history[-1][0]
        in_force: dict[str, int] = {}
        sessions: dict[str, int] = {}
        for _, _, _, topic, state in history[:-1]:
            name = event_type(topic)
            if name == "Registration.SessionOpened":
                data = decode_state(state)
                sessions[str(data["session_id"])] = int(data["seq"])
            elif name == "Registration.RegistrationReset":
                data = decode_state(state)
                in_force[str(data["chain"])] = int(data["cutoff"])
            elif name == "Registration.ResetUndone":
                in_force.pop(str(decode_state(state)["chain"]), None)
        low = max(in_force.values(), default=0)
        current: dict[tuple[str, str], tuple[int, int, str]] = {}
        for session_id, seq in sessions.items():
            if seq <= low:
                continue  # removed by an earlier reset still in force
            deleted, synced = False, []
            for p, _, _, topic, state in store.events_of(
                [session_aggregate_id(rid, session_id)], before - 1
            ):
                name = event_type(topic)
                if name == "Session.RecordsSynced":
                    synced.append((p, decode_state(state)["records"]))
                elif name in ("Session.Deleted", "Session.Restored"):
                    deleted = name == "Session.Deleted"
            if deleted:
                continue
            for p, records in synced:
                for et, key, digest in records:
                    mine = (seq, p, digest)
                    best = current.get((et, key))
                    if best is None or mine[:2] > best[:2]:
                        current[(et, key)] = mine
    gone = sorted(
        ((seq, p, et, key, digest) for (et, key), (seq, p, digest) in current.items()),
    )
    records = [(et, key, digest) for seq, _, et, key, digest in gone if seq <= cutoff]
    return ResetUnsynced(rid, cutoff, records)
