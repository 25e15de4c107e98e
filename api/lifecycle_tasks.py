"""The time-based tasks of serve's background work: stuck flagging (rule 15), self-healing
(rule 16), approval expiry (rule 17).

Each task narrows with one set-based query on the read models, then asks the Ledger to
decide on each candidate: the rule decides, the query only narrows. Several serve processes
may run them at once: the aggregates' optimistic concurrency makes exactly one record each
flag, deletion or expiry (the others find, on retry, that there is nothing left to do).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.errors import LedgerError
from domain.ledger import Ledger
from domain.liveness import to_micros
from projections.interface import ReadModelsProtocol

log = logging.getLogger("syncledger.housekeeping")
BATCH = 1000  # candidates per round and task; the rest wait for the next round

Clock = Callable[[], datetime]


def flag_stuck(ledger: Ledger, reads: ReadModelsProtocol, clock: Clock) -> int:
    """Record SessionFlaggedStuck for each stuck spell not yet flagged; returns how many."""
    now = clock()
    done = 0
    for rid, sid in reads.unflagged_stuck(to_micros(now), BATCH):
        done += _decided(ledger.flag_stuck, UUID(rid), sid, now=now)
    return done


def self_heal(ledger: Ledger, reads: ReadModelsProtocol, clock: Clock) -> int:
    """Delete each opted-in stuck session that passes rule 5; returns how many."""
    now = clock()
    done = 0
    for rid, sid in reads.due_for_self_healing(to_micros(now), BATCH):
        done += _decided(ledger.self_heal, UUID(rid), sid, now=now)
    return done


def expire_approvals(ledger: Ledger, reads: ReadModelsProtocol, clock: Clock) -> int:
    """Record the expiry of each pending approval past its 24 hours; returns how many."""
    now = clock()
    done = 0
    for approval_id in reads.approvals_to_expire(to_micros(now), BATCH):
        done += _decided(ledger.expire_approval, approval_id, now=now)
    return done


def _decided(command: Callable[..., Any], *args: Any, now: datetime) -> int:
    try:
        return 0 if command(*args, now=now) is None else 1
    except LedgerError as exc:  # e.g. removed meanwhile: the next round sees the new state
        log.info("background task skipped a candidate: %s", exc.message)
        return 0


def install(
    add: Callable[[str, Callable[[], Any]], None],
    ledger: Ledger,
    reads: ReadModelsProtocol,
    clock: Clock,
) -> None:
    """Register the three tasks with serve's housekeeping loop."""
    add("stuck", lambda: flag_stuck(ledger, reads, clock))
    add("self_heal", lambda: self_heal(ledger, reads, clock))
    add("approval_expiry", lambda: expire_approvals(ledger, reads, clock))
