"""Small ledger commands and small reads run on the event loop; anything that would wait, doesn't.

A sync endpoint runs on a worker thread: FastAPI hands it to anyio's pool and the event
loop is woken again with the answer. On this 2-core machine that hand-off cost a small
write ~0.5 ms of wall time, a quarter of a heartbeat (two thread wake-ups and the GIL
passed back and forth, measured by alternating the two ways on one served instance;
docs/architecture.md "Small requests"). On SQLite a command itself is a few hundred
microseconds of CPU and one local commit, so the hand-off cost more than the work.

An endpoint marked `@inline` (one ledger command and an answer built from its result)
therefore runs on the event loop, under `domain.infra.locks.no_waiting()`: a lock that is
taken - SQLite's file write lock (the view runners, another process), the registration's
lock, a connection pool with no idle connection, the views not yet at a position, and on
PostgreSQL a save of this process in flight (domain/infra/groupcommit.py) or the log's
lock held by another process (the insert function's LOCK ... NOWAIT) - raises WouldBlock
instead of waiting, before anything is saved, and the endpoint runs again on a worker
thread exactly as before. A command that has saved its events drops the flag
(UnitOfWork._record), so nothing after its commit can be refused and run twice.

On PostgreSQL a command on the loop does wait for the network: its save is one round trip
(a warm command reads nothing first, domain/unit_of_work.py), a few hundred microseconds
during which the loop answers nobody else. That is why only a lone client tries the loop
(`InFlight`): a second client that arrives meanwhile waits that long once, and from then
on writes take the thread until the company has gone, instead of every write paying the
hand-off (~0.3-0.6 ms of a 2.3-3 ms write, measured alternately on one served instance;
docs/architecture.md "Small requests").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

from api.services import Services
from domain.infra.locks import WouldBlock, no_waiting, waiting_allowed

F = TypeVar("F", bound=Callable[..., Any])
MARK = "__syncledger_inline__"


class Counts:
    """Calls answered on the loop and calls sent on to a thread (for tests, not a metric)."""

    on_loop = 0
    to_thread = 0


class InFlight:
    """Requests this process is answering now (RequestObserver counts them on the loop),
    and when it last saw company: two requests at once, or two clients (connections)
    within `QUIET_S`.

    A write tries the loop only when there has been no company for `QUIET_S`. With several
    clients at once a lock is often taken, and a command refused at its save has mutated
    its cached aggregates, which are then evicted and rebuilt from the log on the thread:
    8 clients on distinct registrations wrote 175 writes/s that way against 416 on threads
    (bench_small, SQLite). And a write on the loop holds the loop for its commit (on
    PostgreSQL a round trip): the other clients' requests wait unread meanwhile, so each
    then starts alone, the count never passes one, and every write stays on the loop -
    8 PostgreSQL clients wrote 454-472 writes/s that way against 518-533 for one client.
    Counting clients as well as requests breaks that circle. Busy, the hand-off is shared
    by the requests anyway; a lone client (one connection) never has company."""

    count = 0
    crowded_at = float("-inf")  # clock() when company was last seen
    last_client: object = None
    last_seen = float("-inf")
    QUIET_S = 0.25
    clock: Callable[[], float] = staticmethod(time.monotonic)

    @classmethod
    def arrived(cls, client: object = None) -> None:
        cls.count += 1
        now = cls.clock()
        if cls.count > 1 or (client != cls.last_client and now - cls.last_seen < cls.QUIET_S):
            cls.crowded_at = now
        cls.last_client, cls.last_seen = client, now

    @classmethod
    def left(cls) -> None:
        cls.count -= 1

    @classmethod
    def alone(cls) -> bool:
        return cls.count <= 1 and cls.clock() - cls.crowded_at >= cls.QUIET_S


def inline(endpoint: F) -> F:
    """Mark a sync endpoint that may run on the event loop (module docstring)."""
    setattr(endpoint, MARK, True)
    return endpoint


def off_loop() -> None:
    """In an `@inline` endpoint, before work that is not small (a replay, a scan): on the
    event loop this sends the call to a worker thread; there it does nothing."""
    if not waiting_allowed():
        raise WouldBlock("not a small call: it runs on a worker thread")


def is_inline(endpoint: Callable[..., Any]) -> bool:
    return bool(getattr(endpoint, MARK, False))


async def call(endpoint: Callable[..., Any], services: Services, values: dict[str, Any]) -> Any:
    """The endpoint's answer: on the loop if it needs no wait, else on a worker thread."""
    if InFlight.alone():
        try:
            with no_waiting():
                answer = endpoint(**values)
        except WouldBlock:
            pass
        else:
            Counts.on_loop += 1
            return answer
    Counts.to_thread += 1
    return await run_in_threadpool(endpoint, **values)
