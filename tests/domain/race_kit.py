"""Processes racing on one registration, and the log checks they must pass (not a test module).

Module-level functions, so spawned processes can run them (tests/domain/test_atomic_checks.py).
"""

from __future__ import annotations

import random
import time
from typing import Any
from uuid import UUID

from ledger_testkit import all_events

from domain.errors import LedgerError
from domain.infra.database import Database
from domain.ledger import Ledger
from domain.registration import Registration
from domain.session import Session
from domain.values import Context

TYPE = "time"


def ingest(database_url: str, rid: str, name: str, seconds: float) -> int:
    """Start sessions (taking over the blocking one) and append batches; batches accepted."""
    ledger = Ledger({"CREATE_TABLE": "no"}, database=Database.from_url(database_url))
    ctx = Context(f"worker-{name}", name)
    accepted = 0
    current: str | None = None
    n = 0
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            n += 1
            try:
                if current is None or n % 7 == 0:
                    current = ledger.start_session(ctx, UUID(rid), sync_type=TYPE).session_id
                batch = [["T", f"{name}-{n}-{i}", "d"] for i in range(3)] + [["T", "shared", name]]
                ledger.record_batch(ctx, UUID(rid), current, batch)
                accepted += 1
                if n % 11 == 0:
                    ledger.complete_session(ctx, UUID(rid), current)
            except LedgerError as e:
                blocking = e.details.get("blocking_session_id")
                current = blocking if isinstance(blocking, str) else None
    finally:
        ledger.close()
    return accepted


def support(database_url: str, rid: str, seconds: float, seed: int) -> int:
    """Reset, delete the session in progress, and undo, at random; actions recorded."""
    ledger = Ledger({"CREATE_TABLE": "no"}, database=Database.from_url(database_url))
    ctx = Context("support", "race")
    rng = random.Random(seed)
    undoable: list[int] = []
    done = destructive = 0
    deadline = time.monotonic() + seconds
    # On a loaded machine the spawned processes can start late: keep racing past the deadline
    # until a few resets/deletions really happened (bounded), so the test always tests a race.
    hard_stop = deadline + 30.0
    try:
        while time.monotonic() < deadline or (destructive < 3 and time.monotonic() < hard_stop):
            time.sleep(rng.uniform(0, 0.004))
            choice = rng.random()
            try:
                if choice < 0.3:
                    result = ledger.reset_registration(
                        ctx, UUID(rid), reason="race", confirm_file_id="f"
                    )
                    undoable.append(result.position)
                    destructive += 1
                elif choice < 0.6:
                    sid = ledger.get_registration(UUID(rid)).session_in_progress(TYPE)
                    if sid is not None:
                        deleted = ledger.delete_session(
                            ctx, UUID(rid), sid, reason="race", override=True, ticket="T"
                        )
                        undoable.append(deleted.position)
                        destructive += 1
                    else:
                        continue
                elif undoable:
                    position = undoable.pop(rng.randrange(len(undoable)))
                    undoable.append(ledger.undo(ctx, position, reason="race").position)
                else:
                    continue
                done += 1
            except LedgerError:
                pass
    finally:
        ledger.close()
    return done


def check_log(ledger: Ledger, rid: UUID) -> dict[str, int]:
    """Replay the whole log: no batch accepted into a removed or ended session, and never
    two sessions of one type in progress and not removed. Returns a few counts."""
    sessions: dict[UUID, dict[str, Any]] = {}
    resets: dict[str, list[Any]] = {}  # chain -> [cutoff, active]
    counts = {"batches": 0, "resets": 0, "deletions": 0, "undos": 0}

    def cutoff() -> int:
        return max((c for c, active in resets.values() if active), default=0)

    def removed(s: dict[str, Any]) -> bool:
        return bool(s["deleted"]) or s["seq"] <= cutoff()

    for position, event in all_events(ledger):
        if isinstance(event, Session.Started):
            sessions[event.originator_id] = {
                "seq": event.seq,
                "type": event.sync_type,
                "status": "in_progress",
                "deleted": False,
                "id": event.session_id,
            }
        elif isinstance(event, Session.RecordsSynced):
            s = sessions[event.originator_id]
            assert not removed(s), f"position {position}: a batch accepted into removed {s}"
            assert s["status"] == "in_progress", f"position {position}: batch into ended {s}"
            counts["batches"] += 1
        elif isinstance(event, Session.Completed | Session.Failed):
            s = sessions[event.originator_id]
            assert not removed(s), f"position {position}: removed session ended {s}"
            s["status"] = "ended"
        elif isinstance(event, Session.Deleted):
            sessions[event.originator_id]["deleted"] = True
            counts["deletions"] += 1
        elif isinstance(event, Session.Restored):
            sessions[event.originator_id]["deleted"] = False
            counts["undos"] += 1
        elif isinstance(event, Registration.RegistrationReset) and event.originator_id == rid:
            resets[event.chain or str(event.originator_version)] = [event.cutoff, True]
            counts["resets"] += 1
        elif isinstance(event, Registration.ResetUndone) and event.originator_id == rid:
            resets[event.chain][1] = False
            counts["undos"] += 1
        live: dict[str, list[str]] = {}
        for s in sessions.values():
            if s["status"] == "in_progress" and not removed(s):
                live.setdefault(s["type"], []).append(s["id"])
        for sync_type, ids in live.items():
            assert len(ids) <= 1, f"position {position}: two {sync_type!r} in progress: {ids}"
    return counts
