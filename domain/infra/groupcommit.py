"""Group commit: concurrent saves in one process share one insert call, one lock hold, one flush.

On PostgreSQL every save of events is one call of the log's insert function
(domain/infra/recorders.py). The call takes the EXCLUSIVE lock that keeps positions in commit
order and holds it until its commit has flushed the WAL, so concurrent saves were committed
one flush at a time (issue 16: 8 clients on distinct registrations wrote ~1.5x what one did,
their backends waiting on the log's lock and on WAL flushes).

Leader and followers: a caller queues its rows. If no call is in flight it becomes the leader,
takes what is queued (up to MAX_ROWS rows, at least one caller's) and makes ONE call with all
of it; the callers that queued meanwhile wait and are answered by that call. A lone caller
finds nothing in flight and goes straight through: no timer, no sleep, no added wait.

Each caller gets exactly its own answer:
- ids: the call returns one id per row, in the rows' order (the recorder maps them by
  the rows' keys), and each caller takes its own slice;
- a refusal of the whole call that one caller's rows can cause (an IntegrityError: an
  aggregate saved at a version that already exists, i.e. a stale one - optimistic
  concurrency, domain/unit_of_work.py) runs each caller's rows again alone, so only the
  stale one is refused and the others commit;
- an outage (the call's commit outcome unknown, or the database refusing everyone) is every
  caller's answer: all their rows were in that call (domain/infra/outage.py).
A caller's guards (aggregates it read at a version, domain/unit_of_work.py) go into the
same call; one that has moved on refuses the call like a stale aggregate, and the re-run
alone refuses only its caller.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from domain.infra.locks import WouldBlock, waiting_allowed
from domain.infra.outage import CommitUnknown, classify

R = TypeVar("R")
G = TypeVar("G")

# A bound on one call's rows, so one call (and its lock hold) stays small whatever queues up.
MAX_ROWS = 1000


class _Waiter(Generic[R, G]):
    __slots__ = ("done", "error", "guards", "ids", "rows")

    def __init__(self, rows: Sequence[R], guards: Sequence[G]) -> None:
        self.rows = rows
        self.guards = guards
        self.ids: list[int] | None = None
        self.error: BaseException | None = None
        self.done = False


class GroupCommit(Generic[R, G]):
    """`call(rows, guards)` inserts rows in one commit, refused if a guard fails, and returns
    one id per row, in their order."""

    def __init__(
        self, call: Callable[[Sequence[R], Sequence[G]], list[int]], max_rows: int = MAX_ROWS
    ) -> None:
        self._call = call
        self._max_rows = max_rows
        self._lock = threading.Lock()
        self._answered = threading.Condition(self._lock)  # a call ended: waiters look again
        self._arrived = threading.Condition(self._lock)  # a caller queued (wait_for_queued)
        self._queue: list[_Waiter[R, G]] = []
        self._busy = False
        self.calls = 0  # calls made, retries of a call not counted (tests count them)
        # Called by the leader, outside the lock, with the number of callers in its batch,
        # just before its call: tests hold a call there to let others queue.
        self.before_call: Callable[[int], None] | None = None

    def submit(self, rows: Sequence[R], guards: Sequence[G] = ()) -> list[int]:
        """Insert `rows` (with whatever else is queued) and return their ids, in order."""
        waiter: _Waiter[R, G] = _Waiter(rows, guards)
        with self._lock:
            if not waiting_allowed():
                # On the API's event loop (api/inline.py): a call in flight would be a wait,
                # and its own call carries only its own rows, so a refusal that its no-wait
                # call meets (the log's lock taken) is nobody else's answer.
                if self._busy:
                    raise WouldBlock("another save of this process is in flight")
                self._lead([waiter])
            else:
                self._queue.append(waiter)
                self._arrived.notify_all()
                while not waiter.done:
                    if self._busy:
                        self._answered.wait()
                        continue
                    # Nothing in flight: lead. The batch is taken from the queue's head, so
                    # a caller left out by the cap leads (or is carried by) the next call.
                    self._lead(self._take())
        if waiter.error is not None:
            raise waiter.error
        assert waiter.ids is not None
        return waiter.ids

    def _lead(self, batch: list[_Waiter[R, G]]) -> None:
        """Make `batch`'s call outside the lock (held on entry and on return)."""
        self._busy = True
        self._lock.release()
        try:
            self._run(batch)
        finally:
            self._lock.acquire()
            self._busy = False
            self._answered.notify_all()

    def wait_for_queued(self, count: int, timeout: float) -> bool:
        """Until `count` callers wait for the next call (tests line a batch up with it)."""
        with self._lock:
            return self._arrived.wait_for(lambda: len(self._queue) >= count, timeout)

    def _take(self) -> list[_Waiter[R, G]]:
        taken, rows = 0, 0
        for waiter in self._queue:
            if taken and rows + len(waiter.rows) > self._max_rows:
                break
            taken, rows = taken + 1, rows + len(waiter.rows)
        batch, self._queue[:taken] = self._queue[:taken], []
        return batch

    def _run(self, batch: list[_Waiter[R, G]]) -> None:
        try:
            error = self._once(batch)
            if error is None:
                return
            if len(batch) == 1 or isinstance(error, CommitUnknown) or classify(error):
                # One caller's own answer, or an outage: all their rows were in this call.
                for waiter in batch:
                    waiter.error = error
                return
            # Refused by the database for one caller's rows (e.g. a stale aggregate): each
            # caller's rows again alone, so only that caller is refused.
            for waiter in batch:
                single = self._once([waiter])
                if single is not None:
                    waiter.error = single
        except BaseException as exc:  # e.g. KeyboardInterrupt: nobody may wait forever
            for waiter in batch:
                if waiter.ids is None and waiter.error is None:
                    waiter.error = exc
            raise
        finally:
            for waiter in batch:
                waiter.done = True

    def _once(self, batch: list[_Waiter[R, G]]) -> Exception | None:
        """One call for `batch`; hands each waiter its ids, or returns the call's error."""
        rows = [row for waiter in batch for row in waiter.rows]
        guards = [guard for waiter in batch for guard in waiter.guards]
        if self.before_call is not None:
            self.before_call(len(batch))
        self.calls += 1
        try:
            ids = self._call(rows, guards)
        except Exception as exc:
            return exc
        if len(ids) != len(rows):
            return RuntimeError(f"the insert returned {len(ids)} ids for {len(rows)} rows")
        start = 0
        for waiter in batch:
            waiter.ids = ids[start : start + len(waiter.rows)]
            start += len(waiter.rows)
        return None
