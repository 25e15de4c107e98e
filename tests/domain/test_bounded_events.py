"""Finding 9: deleting a big session (and undoing that) stores small events whatever the
session's size; what was unsynced stays exactly derivable from the log."""

from __future__ import annotations

import tracemalloc

from ledger_testkit import all_events, receipts_from_log

from domain.infra.database import Database
from domain.ledger import Ledger
from domain.session import Session
from domain.values import Context
from replay.unsynced import unsynced_by_deletion

CTX = Context("tester", "corr")
BATCH = 10_000


def test_deleting_a_big_session_stores_bounded_events(database: Database) -> None:
    ledger = Ledger(database=database)
    try:
        rid = ledger.register(CTX, product="p", file_id="big").registration_id
        sid = ledger.start_session(CTX, rid, sync_type="full").session_id
        for b in range(3):
            batch = [["Client List", f"k{b}-{i}", f"{i:064x}"] for i in range(BATCH)]
            ledger.record_batch(CTX, rid, sid, batch)
        ledger.complete_session(CTX, rid, sid)
        newer = ledger.start_session(CTX, rid, sync_type="periodic").session_id
        ledger.record_batch(CTX, rid, newer, [["Client List", "k0-1", "changed"]])
        start = ledger.current_position() + 1
        preview = ledger.preview_deletion(rid, sid)
        tracemalloc.start()
        deleted = ledger.delete_session(CTX, rid, sid, reason="b", override=True, ticket="T")
        undone = ledger.undo(CTX, deleted.position, reason="undo")
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        # Neither command holds all the session's records at once, only a batch event or
        # two (benchmarks/bench_deletion.py: the same peak for 300,000 records).
        assert peak < 25_000_000, peak
        stored = ledger.recorder.select_notifications(start=start, limit=100)
        assert [n.id for n in stored][-1] == undone.position
        # Each event of the deletion and of its undo is small (old code: one event named
        # every record, ~2.5 MB here, tens of MB for 300,000 records).
        assert max(len(n.state) for n in stored) < 1024, [len(n.state) for n in stored]
        (unsynced,) = [
            e for _, e in all_events(ledger, start) if isinstance(e, Session.ReceiptsUnsynced)
        ]
        # The count is exact: every record of the session but the one a newer session
        # re-synced; the records themselves are the session's own events.
        assert unsynced.records == []
        assert unsynced.receipts == deleted.unsynced == preview.would_unsync == 3 * BATCH - 1
        assert receipts_from_log(ledger, rid)[("Client List", "k0-2")] == (sid, f"{2:064x}")
        derived = unsynced_by_deletion(database, deleted.position)
        assert len(derived) == unsynced.receipts
        assert ("Client List", "k0-1") not in {(et, key) for et, key, _ in derived}
    finally:
        ledger.close()
