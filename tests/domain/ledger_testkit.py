"""Shared helpers for the domain tests (not a test module)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

from domain.infra.database import Database
from domain.infra.eventlog import EventLog, table_name
from domain.ledger import Ledger
from domain.registration import Registration
from domain.session import Session

ReceiptKey = tuple[str, str]
# (entity_type, key) -> (session_id, digest)
Receipts = dict[ReceiptKey, tuple[str, str]]


def all_events(ledger: Ledger, start: int = 1) -> Iterator[tuple[int, Any]]:
    """(position, domain event) for every event from `start`, in position order."""
    while True:
        found = ledger.recorder.select_notifications(start=start, limit=500)
        if not found:
            return
        for n in found:
            yield n.id, ledger.mapper.to_domain_event(n)
        start = found[-1].id + 1


def count_rows(database: Database, table: str) -> int:
    """Rows in an eventsourcing table ("events" or "snapshots") on either backend."""
    with EventLog.open(database) as log:
        row = log.conn.execute(f"SELECT count(*) FROM {table_name(database.kind, table)}")
        return int(row.fetchone()[0])


def receipts_from_log(ledger: Ledger, rid: UUID) -> Receipts:
    """Current receipts of a registration, replayed from the whole event log.

    The newest record (by session seq, then position) among non-removed sessions wins. A
    session is removed while deleted, or while its seq is at or below the cutoff of a
    reset still in force.
    """
    rid_text = str(rid)
    seq_of: dict[UUID, int] = {}
    sid_of: dict[UUID, str] = {}
    deleted: set[UUID] = set()
    resets: dict[str, tuple[int, bool]] = {}  # chain -> (cutoff, active)
    # (entity_type, key) -> {session aggregate id: (position, digest)}
    synced: dict[ReceiptKey, dict[UUID, tuple[int, str]]] = {}
    for position, event in all_events(ledger):
        if isinstance(event, Session.Started):
            if event.registration_id == rid_text:
                seq_of[event.originator_id] = event.seq
                sid_of[event.originator_id] = event.session_id
        elif event.originator_id in seq_of:
            if isinstance(event, Session.RecordsSynced):
                for entity_type, key, digest in event.records:
                    synced.setdefault((entity_type, key), {})[event.originator_id] = (
                        position,
                        digest,
                    )
            elif isinstance(event, Session.Deleted):
                deleted.add(event.originator_id)
            elif isinstance(event, Session.Restored):
                deleted.discard(event.originator_id)
        elif event.originator_id == rid:
            if isinstance(event, Registration.RegistrationReset):
                resets[event.chain or str(event.originator_version)] = (event.cutoff, True)
            elif isinstance(event, Registration.ResetUndone):
                resets[event.chain] = (resets[event.chain][0], False)
    cutoff = max((c for c, active in resets.values() if active), default=0)
    out: Receipts = {}
    for record_key, by_session in synced.items():
        live = [
            (seq_of[agg], pos, agg, digest)
            for agg, (pos, digest) in by_session.items()
            if agg not in deleted and seq_of[agg] > cutoff
        ]
        if live:
            _, _, agg, digest = max(live)
            out[record_key] = (sid_of[agg], digest)
    return out


def refused(ledger: Ledger, error: type[Exception], call: Callable[[], object]) -> Any:
    """Run a command that must be refused; assert it recorded nothing. Returns the error."""
    before = ledger.current_position()
    try:
        call()
    except error as e:
        assert ledger.current_position() == before, "a refused command recorded events"
        return e
    raise AssertionError(f"expected {error.__name__}")


def append_batches(
    database_url: str, rid: str, session_id: str, prefix: str, batches: int, size: int = 20
) -> tuple[list[str], list[str]]:
    """Append `batches` batches with fresh records; (acknowledged, refused) batch ids.

    Module-level so a spawned process can run it (tests/domain/test_concurrency.py).
    """
    from uuid import UUID

    from domain.errors import LedgerError
    from domain.values import Context

    # The tables exist already. CREATE_TABLE=no sidesteps the start-up race of two
    # processes constructing a Ledger at once (see test_concurrent_ledger_startup_postgres).
    ledger = Ledger({"CREATE_TABLE": "no"}, database=Database.from_url(database_url))
    ctx = Context(f"worker-{prefix}", prefix)
    acknowledged: list[str] = []
    refused_ids: list[str] = []
    try:
        for b in range(batches):
            batch_id = f"{prefix}-{b}"
            batch = [["Client List", f"{prefix}-{b}-{i}", "d"] for i in range(size)]
            try:
                result = ledger.record_batch(ctx, UUID(rid), session_id, batch, batch_id=batch_id)
            except LedgerError:
                refused_ids.append(batch_id)
                continue
            assert result.accepted == size, result
            acknowledged.append(batch_id)
    finally:
        ledger.close()
    return acknowledged, refused_ids
