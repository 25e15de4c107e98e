"""Issue 16: concurrent saves on PostgreSQL share one insert call (group commit,
domain/infra/groupcommit.py), and each caller still gets exactly its own answer: its own
positions, its own IntegrityError when its aggregate is stale, CommitUnknown when the call
carrying its rows lost its connection.

On the real server. A batch is lined up without timing: the recorder's `before_call` hook
holds the first call until the other callers have queued behind it (`wait_for_queued`)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import InfrastructureFactory, IntegrityError, StoredEvent

from domain.infra import recorders
from domain.infra.database import Database
from domain.infra.outage import CommitUnknown, classify
from domain.infra.recorders import PostgresSideWriteRecorder, SideWrite, _Lost
from tests.outage_kit import PgProxy, pg_proxy

__all__ = ["pg_proxy"]

WAIT_S = 30  # a bound on waits for other threads, never reached when the code is right
MARKER = "group-commit-cut-here"


@pytest.fixture
def recorder(postgres_database: Database) -> Iterator[PostgresSideWriteRecorder]:
    yield from _recorder(postgres_database)


def _recorder(database: Database) -> Iterator[PostgresSideWriteRecorder]:
    factory = InfrastructureFactory.construct(env=database.eventsourcing_env())
    try:
        recorder = factory.application_recorder()
        assert isinstance(recorder, PostgresSideWriteRecorder)
        yield recorder
    finally:
        factory.close()


def _events(aggregate: UUID, versions: range, topic: str = "tests:Saved") -> list[StoredEvent]:
    return [StoredEvent(aggregate, v, topic, f"{aggregate}/{v}".encode()) for v in versions]


def _in_one_batch(
    recorder: PostgresSideWriteRecorder,
    first: list[StoredEvent],
    others: list[list[StoredEvent]],
) -> tuple[dict[int, Any], list[int]]:
    """Saves `first` (it leads), and `others` from threads that queue while its call is held,
    so they share the next call. Each save's ids or exception, and every call's batch size."""
    batches: list[int] = []
    leading = threading.Event()

    def hold_first(size: int) -> None:
        batches.append(size)
        if len(batches) == 1:
            leading.set()
            assert recorder.group_commit.wait_for_queued(len(others), WAIT_S)

    recorder.group_commit.before_call = hold_first
    results: dict[int, Any] = {}

    def save(n: int, events: list[StoredEvent]) -> None:
        try:
            results[n] = recorder.insert_events(events)
        except Exception as exc:
            results[n] = exc

    threads = [threading.Thread(target=save, args=(0, first))]
    threads[0].start()
    assert leading.wait(WAIT_S)
    for n, events in enumerate(others, start=1):
        threads.append(threading.Thread(target=save, args=(n, events)))
        threads[-1].start()
    for thread in threads:
        thread.join(WAIT_S)
        assert not thread.is_alive()
    recorder.group_commit.before_call = None
    return results, batches


def _positions(recorder: PostgresSideWriteRecorder) -> dict[tuple[UUID, int], int]:
    return {
        (n.originator_id, n.originator_version): n.id
        for n in recorder.select_notifications(start=None, limit=1000)
    }


def test_concurrent_saves_share_a_call_and_each_gets_its_own_positions(
    recorder: PostgresSideWriteRecorder,
) -> None:
    aggregates = [uuid4() for _ in range(8)]
    saves = [_events(a, range(1, 2 + n % 3)) for n, a in enumerate(aggregates)]
    results, batches = _in_one_batch(recorder, saves[0], saves[1:])

    # Eight saves, two calls: the leader's alone, then the seven that queued behind it.
    assert batches == [1, 7]
    assert recorder.group_commit.calls == 2
    recorded = _positions(recorder)
    assert len(recorded) == sum(len(s) for s in saves)
    for n, events in enumerate(saves):
        ids = results[n]
        assert ids == [recorded[(e.originator_id, e.originator_version)] for e in events]
        assert ids == sorted(ids)


def test_a_stale_aggregate_in_a_batch_refuses_only_its_own_save(
    recorder: PostgresSideWriteRecorder,
) -> None:
    stale = uuid4()
    recorder.insert_events(_events(stale, range(1, 2)))
    fresh = [uuid4() for _ in range(4)]
    others = [_events(fresh[1], range(1, 3)), _events(stale, range(1, 3))]
    others += [_events(a, range(1, 2)) for a in fresh[2:]]
    results, batches = _in_one_batch(recorder, _events(fresh[0], range(1, 2)), others)

    # The shared call is refused as a whole, then each save runs alone: only the stale one
    # is refused, and none of its events is recorded.
    assert batches == [1, 4, 1, 1, 1, 1]
    assert isinstance(results[2], IntegrityError)
    recorded = _positions(recorder)
    assert (stale, 2) not in recorded
    assert recorder.select_events(stale)[0].state == f"{stale}/1".encode()
    for n in (0, 1, 3, 4):
        events = ([_events(fresh[0], range(1, 2))] + others)[n]
        assert results[n] == [recorded[(e.originator_id, e.originator_version)] for e in events]


def test_a_lone_save_is_its_own_call(recorder: PostgresSideWriteRecorder) -> None:
    sizes: list[int] = []
    recorder.group_commit.before_call = sizes.append
    for _ in range(3):
        recorder.insert_events(_events(uuid4(), range(1, 3)))
    assert sizes == [1, 1, 1] and recorder.group_commit.calls == 3


def test_a_call_that_loses_its_connection_is_commit_unknown_for_every_save_in_it(
    pg_proxy: tuple[PgProxy, Database], postgres_database: Database
) -> None:
    proxy, through_proxy = pg_proxy
    recorders = _recorder(through_proxy)
    recorder = next(recorders)
    try:
        lead = _events(uuid4(), range(1, 2))
        # The proxy cuts every connection when the second call's rows (their topic) are
        # sent, before they reach the server.
        others = [_events(uuid4(), range(1, 3), f"tests:{MARKER}") for _ in range(5)]
        proxy.cut_when_sent(MARKER.encode())
        results, batches = _in_one_batch(recorder, lead, others)

        assert batches[:2] == [1, 5] and proxy.cuts == 1
        assert isinstance(results[0], list)
        for n in range(1, 6):
            assert isinstance(results[n], CommitUnknown), results[n]
            assert classify(results[n]) == "commit_unknown"
        # While the server is away, a save never sent is refused, not of unknown outcome.
        with pytest.raises(Exception) as refused:
            recorder.insert_events(_events(uuid4(), range(1, 2)))
        assert classify(refused.value) == "database_unavailable"
        assert not isinstance(refused.value, CommitUnknown)
    finally:
        proxy.restore()
        _close(recorders)
    # The cut call never reached the server: only the leader's event is recorded.
    assert _count(postgres_database) == 1


def _close(recorders: Iterator[Any]) -> None:
    next(recorders, None)


def _count(database: Database) -> int:
    """Events recorded, read on the server directly (not through the proxy)."""
    recorders = _recorder(database)
    try:
        return len(next(recorders).select_notifications(start=None, limit=1000))
    finally:
        _close(recorders)


def lose_the_first_reply(
    recorder: PostgresSideWriteRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next call runs on the real server, then its answer is dropped (a connection
    lost after the commit); the retries after it answer normally."""
    real = recorder._attempt
    lost: list[bool] = []

    def reply_lost(rows: Any, ids: Any, versions: Any, writes: Any = ()) -> Any:
        answer = real(rows, ids, versions, writes)
        if not lost:
            lost.append(True)
            raise _Lost("server closed the connection unexpectedly")
        return answer

    monkeypatch.setattr(recorder, "_attempt", reply_lost)
    monkeypatch.setattr(recorders, "RETRY_WAIT_S", 0.0)


def test_side_rows_and_events_are_one_pipelined_transaction(
    recorder: PostgresSideWriteRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A save with side rows (a register's claim) is BEGIN, the rows, the call and COMMIT
    sent at once. Both commit, or neither: a failing side row leaves no event, and a lost
    reply is CommitUnknown with the rows and events recorded once."""
    schema = recorder.datastore.schema
    with recorder.datastore.get_connection() as conn:
        conn.execute(f'CREATE TABLE "{schema}".claims (rid TEXT PRIMARY KEY)')
    claim = f'INSERT INTO "{schema}".claims VALUES (?)'

    def claims() -> list[str]:
        with recorder.datastore.get_connection() as conn:
            return [r["rid"] for r in conn.execute(f'SELECT rid FROM "{schema}".claims')]

    first = uuid4()
    ids = recorder.insert_events(
        _events(first, range(1, 3)), side_writes=[SideWrite(claim, (str(first),))]
    )
    assert ids is not None and len(ids) == 2 and claims() == [str(first)]

    broken = uuid4()
    with pytest.raises(IntegrityError):  # the claim's key is taken: nothing is recorded
        recorder.insert_events(
            _events(broken, range(1, 2)), side_writes=[SideWrite(claim, (str(first),))]
        )
    assert recorder.select_events(broken) == [] and claims() == [str(first)]

    lose_the_first_reply(recorder, monkeypatch)
    third = uuid4()
    with pytest.raises(CommitUnknown):
        recorder.insert_events(
            _events(third, range(1, 2)), side_writes=[SideWrite(claim, (str(third),))]
        )
    assert [e.originator_version for e in recorder.select_events(third)] == [1]
    assert sorted(claims()) == sorted([str(first), str(third)])


def test_a_retry_that_meets_the_lost_calls_own_rows_is_commit_unknown(
    recorder: PostgresSideWriteRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reply of a committed call is lost (injected: the call runs on the real server,
    then its answer is dropped); the retry's rows collide with the lost call's own. That is
    not a conflict to re-run the command on (it would record an error or a heartbeat
    twice): the outcome is unknown, and the events are recorded once."""
    lose_the_first_reply(recorder, monkeypatch)
    aggregate = uuid4()
    with pytest.raises(CommitUnknown):
        recorder.insert_events(_events(aggregate, range(1, 3)))
    assert [e.originator_version for e in recorder.select_events(aggregate)] == [1, 2]
