"""A generated history of registrations and sessions, including deletions, resets, undos."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any
from uuid import UUID

from domain import Context, Ledger
from domain.errors import LedgerError

CTX = Context("alice", "c")

Step = Callable[[Ledger], Any]


def build_history(
    ledger: Ledger, *, seed: int = 7, steps: int = 40, after_each: Step | None = None
) -> UUID:
    """Run a random but valid mix of commands against one registration (plus a second
    registration interleaved, so filtering matters). Calls `after_each(ledger)` after every
    command that recorded something."""
    rng = random.Random(seed)
    rid = ledger.register(CTX, product="accountlink", file_id="C:/acme.qbw").registration_id
    other = ledger.register(CTX, product="oneclick", file_id="practice.db").registration_id
    if after_each:
        after_each(ledger)
    sessions: list[str] = []
    destructive: list[int] = []
    for i in range(steps):
        roll = rng.random()
        try:
            if roll < 0.2 or not sessions:
                target = other if rng.random() < 0.2 else rid
                sync_type = rng.choice(["time", "custom", "periodic"])
                started = ledger.start_session(CTX, target, sync_type=sync_type, worker=f"w{i % 3}")
                if target == rid:
                    sessions.append(started.session_id)
            elif roll < 0.5:
                sid = rng.choice(sessions)
                n = rng.randint(1, 5)
                records = [["Client List", f"k{rng.randint(0, 12)}", f"d{i}"] for _ in range(n)]
                ledger.record_batch(CTX, rid, sid, records)
            elif roll < 0.58:
                ledger.record_error(CTX, rid, rng.choice(sessions), message="boom")
            elif roll < 0.72:
                ledger.complete_session(CTX, rid, rng.choice(sessions))
            elif roll < 0.78:
                ledger.fail_session(CTX, rid, rng.choice(sessions), reason="lost connection")
            elif roll < 0.86:
                deleted = ledger.delete_session(
                    CTX, rid, rng.choice(sessions), reason="stuck", override=True, ticket="T-1"
                )
                destructive.append(deleted.position)
            elif roll < 0.9:
                reset = ledger.reset_registration(
                    CTX, rid, reason="start over", confirm_file_id="C:/acme.qbw"
                )
                destructive.append(reset.position)
            elif destructive:
                undone = ledger.undo(CTX, rng.choice(destructive), reason="mistake")
                destructive.append(undone.position)
            else:
                continue
        except LedgerError:
            continue
        if after_each:
            after_each(ledger)
    return rid
