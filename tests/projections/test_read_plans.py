"""A registration's read finds its own sessions by its id, not among everyone's.

The read (and each registration list item) counts the registration's sessions in progress
(rule 10). SQLite's planner answered `registration_id = ? AND status = 'in_progress'` from
the index on `status` alone, so every read walked the sessions in progress of every
registration, three times: 75 -> 173 µs per read with 300 agents syncing elsewhere, growing
with them. The index on (registration_id, status) makes it a lookup. SQLite only: its
planner has no statistics to go on (PostgreSQL chooses from its own, table by table).
"""

from __future__ import annotations

from typing import Any

import pytest

from domain import Context, Database, Ledger
from projections import ReadModels
from projections.store import Tx


def test_a_registration_read_looks_up_its_own_sessions(
    sqlite_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = Ledger(database=sqlite_database)
    ctx = Context("alice", "corr-1")
    rid = ledger.register(ctx, product="p", file_id="mine").registration_id
    ledger.start_session(ctx, rid, sync_type="full")
    for i in range(30):  # other agents, each with a session in progress
        other = ledger.register(ctx, product="p", file_id=f"other-{i}").registration_id
        ledger.start_session(ctx, other, sync_type="full")
    ledger.close()
    models = ReadModels(sqlite_database)
    try:
        models.run_once()
        statements: list[tuple[str, Any]] = []
        one = Tx.one

        def capture(self: Tx, text: str, params: Any = ()) -> Any:
            statements.append((text, params))
            return one(self, text, params)

        monkeypatch.setattr(Tx, "one", capture)
        item = models.get_registration(rid)
        monkeypatch.undo()
        assert item is not None and item["sessions_in_progress"] == 1
        text, params = next(s for s in statements if "view_sessions" in s[0])
        with models.store.read() as tx:
            plan = [str(row[3]) for row in tx.q(f"EXPLAIN QUERY PLAN {text}", params)]
    finally:
        models.close()
    on_sessions = [step for step in plan if step.startswith("SEARCH s ")]
    assert on_sessions, plan
    assert all("registration_id=?" in step for step in on_sessions), on_sessions
    # Its receipt count is the one the view keeps (tests/projections/test_receipt_counts.py),
    # not a count of its records: 19 ms per read at 100,000 receipts, growing with them.
    assert "view_session_records" not in text
