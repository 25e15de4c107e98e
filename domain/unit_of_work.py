"""The unit of work every command runs in: lock, load, decide, save, retry or evict.

A command runs under its registration's lock (threads of one process queue there), loads
the aggregates it needs through `load` — the only loader, which notes each id — calls their
command methods, and adds the changed aggregates to `pending`. They are saved in one
transaction. Two writers racing on one aggregate (other threads or other processes): the
loser's save raises IntegrityError and the command is re-run on fresh state, a bounded
number of times, so no acknowledged write is lost or doubled. Under `no_waiting()`
(domain/infra/locks.py: the API's commands on its event loop) a taken lock or a lost race
raises WouldBlock before anything is saved, and the caller runs the command again on a
worker thread. On any failure every
aggregate it loaded is evicted from the cache: a refused or failed command never leaves
half-applied state behind (cached aggregates are shared, not deep-copied, for speed).

Trusting the cache. The library brought every cached aggregate up to date with a query
before each use ("fast-forward"), because another process may have written since: on
PostgreSQL two round trips of a heartbeat's three, each a thread wake-up on both sides.
A command's first try now decides on its cached aggregates as they are and lets the save
check them in the same transaction, after the log's lock: an aggregate it saves collides
on its next version if it had moved on (the events' unique key), and one it only read
(the registration behind a session command) is guarded - the save is refused if the log
holds a later version of it (GUARDS, domain/infra/recorders.py). Either refusal is the
IntegrityError above: evict, re-run on fresh state. A try that saves nothing (a refusal,
an idempotent repeat) has nothing checked, so it is decided again on fast-forwarded
aggregates before it answers. tests/domain/test_cache_trust.py writes from a second
ledger behind the first one's back, for each of those paths, on both backends.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Recording
from eventsourcing.utils import EnvType

from domain.errors import Conflict, NotFound
from domain.infra.database import Database
from domain.infra.locks import WouldBlock, may_wait_again, schema_setup_lock, waiting_allowed
from domain.infra.recorders import GUARDS, SIDE_WRITES, SideWrite
from domain.registration import Registration
from domain.session import Session
from domain.values import session_aggregate_id

T = TypeVar("T")
MAX_ATTEMPTS = 8
LOCK_STRIPES = 64


@dataclass
class Pending:
    """The aggregates a command changed, saved together in this order."""

    aggregates: list[Aggregate] = field(default_factory=list)
    # Rows that commit with these events, in their transaction (domain/infra/recorders.py).
    side_writes: list[SideWrite] = field(default_factory=list)

    def add(self, *aggregates: Aggregate) -> None:
        self.aggregates.extend(aggregates)


class UnitOfWork(Application[UUID]):
    def __init__(self, env: EnvType | None = None, *, database: Database | None = None) -> None:
        merged: dict[str, str] = {}
        if database is not None:
            merged.update(database.eventsourcing_env())
        merged.update(env or {})
        self.database = database
        self._locks = [threading.RLock() for _ in range(LOCK_STRIPES)]
        self._listeners: list[Callable[[int], None]] = []
        self._loaded = threading.local()
        with schema_setup_lock(database):
            super().__init__(merged)

    def on_saved(self, listener: Callable[[int], None]) -> None:
        """Call `listener(position)` after each save (wakes SQLite projection loops)."""
        self._listeners.append(listener)

    def current_position(self) -> int:
        return self.recorder.max_notification_id() or 0

    def lock(self, rid: UUID) -> threading.RLock:
        return self._locks[rid.int % LOCK_STRIPES]

    def run(self, rid: UUID, command: Callable[[Pending], T]) -> T:
        """Run `command` under the registration's lock, retrying on concurrent writes.

        The first try decides on this process's cached aggregates as they are, without a
        query each (module docstring, "Trusting the cache"); the save then checks, with
        the events, that none of them has moved on (the unique version for the saved
        ones, a guard for the ones only read). A try that saves nothing - a refusal, an
        idempotent repeat - is decided again on aggregates checked against the log."""
        verify = False
        attempt = 0
        while attempt < MAX_ATTEMPTS:
            pending = Pending()
            lock = self.lock(rid)
            if not lock.acquire(blocking=waiting_allowed()):
                raise WouldBlock("another command holds this registration")
            again = False
            try:
                state = self._loaded
                state.ids = loaded = [rid]
                versions: dict[UUID, int] = {}
                state.versions = versions
                state.verify, state.trusted = verify, False
                try:
                    try:
                        result = command(pending)
                    except WouldBlock:
                        raise
                    except Exception:
                        if not state.trusted:
                            raise
                        # Refused on cached state nobody checked: decide on the log's.
                        self._evict(loaded)
                        verify = again = True
                        continue
                    if not pending.aggregates:
                        if state.trusted:  # nothing saved, nothing checked: check first
                            verify = again = True
                            continue
                        return result
                    extra: dict[str, Any] = {}
                    if pending.side_writes:
                        extra[SIDE_WRITES] = pending.side_writes
                    saved = {aggregate.id for aggregate in pending.aggregates}
                    guards = [(i, v) for i, v in versions.items() if i not in saved]
                    if guards:
                        extra[GUARDS] = guards
                    recordings = self.save(*pending.aggregates, **extra)
                    position = recordings[-1].notification.id
                    self._cache_saved(pending.aggregates)
                    result = _with_position(result, position)
                    for listener in self._listeners:
                        listener(position)
                    return result
                except IntegrityError:
                    self._evict(loaded)
                    if not waiting_allowed():  # the retry's back-off is a wait too
                        raise WouldBlock("a concurrent write to this registration") from None
                    if state.trusted and not verify:
                        # The cache was behind the log (another process wrote, or an id
                        # taken as new exists): decide again on the log's state, at once;
                        # the back-off below is for writers racing, not for this.
                        verify = again = True
                        continue
                    verify = True
                except BaseException:
                    self._evict(loaded)
                    raise
                finally:
                    state.ids = state.versions = None
            finally:
                lock.release()
                if not again:
                    attempt += 1
            time.sleep(random.uniform(0, 0.005 * (2**attempt)))
        raise Conflict(
            "Too many concurrent writes to this registration; nothing was recorded. "
            "Retry the request."
        )

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """The library's `save`, for aggregates without its per-object checks against
        runtime Protocols (`isinstance` on a Protocol walks its members each call: 4% of
        the API process's time under small writes, issue 16). Anything else (events,
        None) takes the library's path."""
        if not all(isinstance(obj, Aggregate) for obj in objs):
            return super().save(*objs, **kwargs)
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        for aggregate in objs:
            processing_event.events.extend(aggregate.collect_events())
            processing_event.aggregates[aggregate.id] = aggregate
        processing_event.saved_kwargs.update(kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)  # the library's deprecated hook, as it calls it
        return recordings

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        """The events are committed once this returns: from here on nothing may run the
        command twice, so nothing after it may refuse to wait - `save` goes on to take
        snapshots (a write, and a read of the aggregate) before it returns, and a
        WouldBlock there would have made the API run a committed command again."""
        recordings = super()._record(processing_event)
        may_wait_again()
        return recordings

    def _cache_saved(self, aggregates: Iterable[Aggregate]) -> None:
        """Keep what was just saved in the cache. The library does so only without
        fast-forward; with it, a session just started was not cached and the next command
        on it (or the write's answer, `peek`) rebuilt it from the database. The next
        command trusts it and its save checks it (module docstring)."""
        cache = self.repository.cache
        if cache is not None:
            for aggregate in aggregates:
                cache.put(aggregate.id, aggregate)

    def _evict(self, ids: Iterable[UUID]) -> None:
        cache = self.repository.cache
        if cache is None:
            return
        for aggregate_id in ids:
            try:
                cache.get(aggregate_id, evict=True)
            except KeyError:
                pass

    # --- the only loader -----------------------------------------------------------------

    def load(self, aggregate_id: UUID) -> Any:
        """Load through the cache, noting the id so a failed command evicts it.

        Inside a command's first try a cached aggregate is taken as it is (no query), and
        the version it was read at is noted for the save's guard (`run`); outside a
        command, or when a command decides again, it is brought up to date from the log
        (the library's fast-forward: one query)."""
        state = self._loaded
        loaded = getattr(state, "ids", None)
        if loaded is None:
            return self.repository.get(aggregate_id)
        loaded.append(aggregate_id)
        aggregate = None
        cache = self.repository.cache
        if cache is not None and not state.verify:
            try:
                aggregate = cache.get(aggregate_id)
            except KeyError:
                pass
            else:
                state.trusted = True
        if aggregate is None:
            aggregate = self.repository.get(aggregate_id)
        state.versions.setdefault(aggregate_id, aggregate.version)
        return aggregate

    def load_if_any(self, aggregate_id: UUID) -> Any | None:
        """`load`, or None when there is no such aggregate.

        Inside a command's first try an id this process has not cached is taken as new
        without asking the log (on PostgreSQL the two look-ups were two round trips of a
        register's nine): an aggregate the command then creates collides with the log's
        version 1 at the save if it exists after all, and the command is decided again on
        the log's state (`run`); a try that saves nothing is decided again anyway."""
        state = self._loaded
        cache = self.repository.cache
        if getattr(state, "ids", None) is not None and not state.verify and cache is not None:
            try:
                cache.get(aggregate_id)
            except KeyError:
                state.trusted = True
                return None
        try:
            return self.load(aggregate_id)
        except AggregateNotFoundError:
            return None

    def peek(self, aggregate_id: UUID) -> Any:
        """The cached aggregate as this process's commands left it, without asking the
        database whether another process wrote since; loaded when not cached. For
        answering a write with the state it left, never for deciding a command (a command's
        `load` has its reads checked by the save, or fast-forwards)."""
        cache = self.repository.cache
        if cache is not None:
            try:
                return cache.get(aggregate_id)
            except KeyError:
                pass
        return self.repository.get(aggregate_id)

    def load_registration(self, rid: UUID) -> Registration:
        try:
            registration: Registration = self.load(rid)
        except AggregateNotFoundError:
            raise NotFound(f"No registration with id {rid}.", registration_id=str(rid)) from None
        return registration

    def load_session(self, rid: UUID, session_id: str) -> Session:
        session = self.session_or_none(rid, session_id)
        if session is None:
            raise NotFound(
                f"No session {session_id} in registration {rid}.",
                registration_id=str(rid),
                session_id=session_id,
            )
        return session

    def session_or_none(self, rid: UUID, session_id: str) -> Session | None:
        try:
            session: Session = self.load(session_aggregate_id(rid, session_id))
        except AggregateNotFoundError:
            return None
        return session

    def load_session_by_id(self, aggregate_id: UUID) -> Session:
        session: Session = self.load(aggregate_id)
        return session

    def event_at(self, position: int) -> Any:
        """The domain event recorded at a global position, or None."""
        found = self.recorder.select_notifications(start=position, limit=1, stop=position)
        if not found:
            return None
        return self.mapper.to_domain_event(found[0])


def _with_position(result: T, position: int) -> T:
    if isinstance(result, int):
        return position  # type: ignore[return-value]
    if hasattr(result, "position"):
        return replace(result, position=position)  # type: ignore[type-var]
    return result
