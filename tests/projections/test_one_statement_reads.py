"""Issue 16: one registration and one session are each read with one statement, outside a
transaction (on PostgreSQL one round trip instead of BEGIN, two queries and COMMIT), and
still answer what two statements did: a registration's live sessions newest first (rule 10),
a session's errors in the order they were recorded (both backends)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import pytest

from domain import Context, Ledger
from projections import ReadModels
from projections.reads import registrations as reg_reads
from projections.store import Store, Tx


@contextmanager
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Each statement a read runs, and "transaction" for each read opened in one."""
    seen: list[str] = []
    original_q, original_read = Tx.q, Store.read

    def q(self: Tx, text: str, params: Any = ()) -> list[tuple[Any, ...]]:
        seen.append(text)
        return original_q(self, text, params)

    @contextmanager
    def read(self: Store, single: bool = False) -> Iterator[Tx]:
        if not single:
            seen.append("transaction")
        with original_read(self, single) as tx:
            yield tx

    monkeypatch.setattr(Tx, "q", q)
    monkeypatch.setattr(Store, "read", read)
    yield seen
    monkeypatch.undo()


def _register(ledger: Ledger, ctx: Context) -> UUID:
    return ledger.register(ctx, product="accountlink", file_id="acme.qbw").registration_id


def test_a_registration_is_one_statement_with_its_live_sessions_newest_first(
    ledger: Ledger, models: ReadModels, ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    rid = _register(ledger, ctx)
    old = ledger.start_session(ctx, rid, sync_type="time", worker="srv-old").session_id
    new = ledger.start_session(ctx, rid, sync_type="full", worker="srv-new").session_id
    models.run_once()
    with counted(monkeypatch) as seen:
        reg = models.get_registration(rid)
    assert len(seen) == 1, seen  # one statement, no transaction
    assert reg is not None and reg["sessions_in_progress"] == 2
    assert reg["status"]["state"] == "in_progress"
    assert (reg["status"]["worker"], reg["status"]["session_id"]) == ("srv-new", new)

    # Both stuck (rule 15): the newest stuck one is named; none running.
    future = reg_reads.now_micros() + 121 * 60_000_000
    monkeypatch.setattr(reg_reads, "now_micros", lambda: future)
    reg = models.get_registration(rid)
    assert reg is not None and reg["stuck_sessions"] == 2
    assert (reg["status"]["state"], reg["status"]["session_id"]) == ("stuck", new)
    monkeypatch.undo()

    # The older one renewed (rule 15): at a time when only the newer is stuck, the older
    # is the one running.
    ledger.record_error(ctx, rid, old, message="still here")
    models.run_once()
    with models.store.read() as tx:
        renewed = tx.one("SELECT last_activity_at FROM view_sessions WHERE session_id = ?", (old,))
    assert renewed is not None
    at = int(renewed[0]) + 120 * 60_000_000
    monkeypatch.setattr(reg_reads, "now_micros", lambda: at)
    reg = models.get_registration(rid)
    assert reg is not None and reg["stuck_sessions"] == 1
    assert (reg["status"]["state"], reg["status"]["session_id"]) == ("in_progress", old)
    monkeypatch.undo()
    ledger.complete_session(ctx, rid, new)
    ledger.complete_session(ctx, rid, old)
    models.run_once()
    reg = models.get_registration(rid)
    assert reg is not None and reg["status"]["state"] == "idle"
    assert "session_id" not in reg["status"]  # as before: the API's model adds it (null)
    assert models.get_registration(UUID(int=0)) is None


def test_a_session_is_one_statement_with_its_errors_in_recorded_order(
    ledger: Ledger, models: ReadModels, ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    rid = _register(ledger, ctx)
    sid = ledger.start_session(ctx, rid, sync_type="time").session_id
    quiet = ledger.start_session(ctx, rid, sync_type="full").session_id
    # Messages whose text order is not their recorded order, one with every optional field
    # and characters JSON escapes.
    messages = [f"error {n:02d}" for n in range(30, 0, -1)] + ['quote " back \\ é 😀 \n']
    for n, message in enumerate(messages):
        extra = {"entity_type": "Client List", "key": f"k-{n}"} if n % 7 == 0 else {}
        ledger.record_error(ctx, rid, sid, message=message, **extra)
    models.run_once()
    with counted(monkeypatch) as seen:
        session = models.get_session(rid, sid)
    assert len(seen) == 1, seen  # one statement, no transaction
    assert session is not None
    assert [e["message"] for e in session["errors"]] == messages
    assert session["errors"][0]["entity_type"] == "Client List"
    assert session["errors"][0]["key"] == "k-0"
    assert session["errors"][1]["entity_type"] is None and session["errors"][1]["key"] is None
    ats = [e["at"] for e in session["errors"]]
    assert ats == sorted(ats) and all(at.endswith("Z") and len(at) == 27 for at in ats)
    # The console's page of errors reads the same errors in the same order.
    paged = models.session_errors(rid, sid, limit=100)
    assert paged == session["errors"]
    none = models.get_session(rid, quiet)
    assert none is not None and none["errors"] == []
    assert models.get_session(rid, "no-such-session") is None
