"""Rule 6 and 19: what deleting a session unsyncs, defined once (deletion and dry run).

A deletion unsyncs the receipts that come from the session: each distinct (entity_type,
key) it synced, except those a newer not-removed session has synced since (that newer
session's receipt is the current one, and stays). The deletion records the count; the keys
stay derivable from the log — the session's own `RecordsSynced` events minus the keys of
the newer sessions — so no event grows with the size of a session (finding 9).

Reads go through the event store a few events at a time, so memory stays bounded by the
keys of the newer sessions (none, for the usual deletion of the newest session) plus one
page of events; a session with no records costs nothing at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from domain.registration import Registration
from domain.session import Session
from domain.values import Record, session_aggregate_id

EVENTS_PER_READ = 1  # a RecordsSynced event carries up to 10,000 records (~6 MB decoded)
REG_EVENTS_PER_READ = 200


def _events(app: Application[UUID], aggregate_id: UUID, lte: int | None = None) -> Iterator[Any]:
    """An aggregate's events, oldest first, read a page at a time (up to version `lte`)."""
    gt = 0
    while True:
        page = list(app.events.get(aggregate_id, gt=gt, lte=lte, limit=EVENTS_PER_READ))
        if not page:
            return
        yield from page
        gt = page[-1].originator_version


def newer_sessions(app: Application[UUID], reg: Registration, seq: int) -> list[UUID]:
    """Aggregate ids of the sessions opened after seq `seq`, newest first (the registration's
    events are read backwards only as far as that session's opening)."""
    found: list[UUID] = []
    lte = reg.version
    while lte > 0:
        page = list(app.events.get(reg.id, lte=lte, desc=True, limit=REG_EVENTS_PER_READ))
        if not page:
            break
        for event in page:
            if isinstance(event, Registration.SessionOpened):
                if event.seq <= seq:
                    return found
                found.append(session_aggregate_id(reg.id, event.session_id))
        lte = page[-1].originator_version - 1
    return found


def superseding_keys(app: Application[UUID], reg: Registration, session: Session) -> set[int]:
    """Fingerprints of the keys synced by newer sessions that are not removed.

    (A newer session is never removed by a reset while this one is not: resets remove
    every session up to a cutoff.)"""
    keys: set[int] = set()
    for aggregate_id in newer_sessions(app, reg, session.seq):
        deleted = False
        mine: set[int] = set()
        for event in _events(app, aggregate_id):
            if isinstance(event, Session.RecordsSynced):
                mine.update(hash((et, key)) for et, key, _ in event.records)
            elif isinstance(event, Session.Deleted):
                deleted = True
            elif isinstance(event, Session.Restored):
                deleted = False
        if not deleted:
            keys |= mine
    return keys


def unsynced_count(app: Application[UUID], reg: Registration, session: Session) -> int:
    """How many receipts deleting `session` (not removed) unsyncs now."""
    if session.records_synced == 0:
        return 0
    newer = superseding_keys(app, reg, session)
    if not newer:
        return session.distinct_records
    overlap: set[int] = set()
    for event in _events(app, session.id, lte=session.version):
        if isinstance(event, Session.RecordsSynced):
            for et, key, _ in event.records:
                fingerprint = hash((et, key))
                if fingerprint in newer:
                    overlap.add(fingerprint)
    return session.distinct_records - len(overlap)


def unsynced_records(
    app: Application[UUID], reg: Registration, session: Session, limit: int
) -> list[Record]:
    """The first `limit` records deleting `session` would unsync (newest digest each, in
    first-sync order)."""
    if session.records_synced == 0 or limit <= 0:
        return []
    newer = superseding_keys(app, reg, session)
    out: dict[tuple[str, str], str] = {}
    for event in _events(app, session.id, lte=session.version):
        if isinstance(event, Session.RecordsSynced):
            for et, key, digest in event.records:
                record_key = (et, key)
                if record_key in out:
                    out[record_key] = digest
                elif len(out) < limit and hash(record_key) not in newer:
                    out[record_key] = digest
    return [(et, key, digest) for (et, key), digest in out.items()]
