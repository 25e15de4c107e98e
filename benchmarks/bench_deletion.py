"""Deleting a big session, then undoing it: event size and memory stay bounded (issue 10).

A session of 300,000 records (30 batches of 10,000) is deleted with override, then the
deletion is undone. Figures: the largest event either transaction stores (bytes), and the
peak Python memory the two commands allocate (tracemalloc), against the size of one
10,000-record batch event as the baseline. Before issue 10 the deletion stored one event
naming every record (tens of MB) and the process grew by ~135 MB.
"""

from __future__ import annotations

import tempfile
import tracemalloc
from pathlib import Path

from benchmarks.common import Result
from domain import Context, Database, Ledger

BATCH = 10_000
TINY = {"records": 20_000}


def _stored_sizes(ledger: Ledger, start: int) -> list[int]:
    found = ledger.recorder.select_notifications(start=start, limit=1000)
    return [len(n.state) for n in found]


def run(quick: bool = True, records: int = 300_000) -> list[Result]:
    ctx = Context("bench", "deletion")
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger(database=Database.from_url(f"sqlite:///{Path(tmp) / 'delete.db'}"))
        try:
            rid = ledger.register(ctx, product="bench", file_id="big").registration_id
            sid = ledger.start_session(ctx, rid, sync_type="full").session_id
            batch_position = 0
            for b in range(0, records, BATCH):
                batch = [["Client List", f"k{b + i}", f"{b + i:064x}"] for i in range(BATCH)]
                batch_position = ledger.record_batch(ctx, rid, sid, batch).position
            ledger.complete_session(ctx, rid, sid)
            batch_event = _stored_sizes(ledger, batch_position)[0]
            start = ledger.current_position() + 1
            tracemalloc.start()
            deleted = ledger.delete_session(ctx, rid, sid, reason="b", override=True, ticket="T")
            ledger.undo(ctx, deleted.position, reason="undo")
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            largest = max(_stored_sizes(ledger, start))
            assert deleted.unsynced == records
        finally:
            ledger.close()
    return [
        Result(
            group="deletion of a big session",
            name=f"largest event of delete + undo, {records:,} records (bytes)",
            value=largest,
            unit="B",
            baseline_name=f"one {BATCH:,}-record batch event",
            baseline_value=batch_event,
            target="< 2 KB, whatever the size",
            met=largest < 2048,
        ),
        Result(
            group="deletion of a big session",
            name=f"peak memory of delete + undo, {records:,} records (MB)",
            value=peak / 1e6,
            unit="MB",
            baseline_name=f"one {BATCH:,}-record batch event (MB)",
            baseline_value=batch_event / 1e6,
            target="< 20 MB",
            met=peak < 20e6,
        ),
    ]


if __name__ == "__main__":
    for r in run():
        print(f"{r.name:60} {r.value:12.1f} {r.unit}  met={r.met}")
