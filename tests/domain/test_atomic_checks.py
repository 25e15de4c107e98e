"""Finding 2 and 6: every decision is covered by the optimistic concurrency check, across
Ledger instances and processes, and a failed save never leaves the cache wrong.

- Two Ledgers (separate caches, as two serve processes have) on one database: a reset by
  one lands between the other's load and save of a batch. The batch must be refused.
- Processes racing resets, deletions and undos against ingest and session starts, on both
  backends: the log never shows a batch accepted into a removed session nor two sessions of
  one type in progress, and the read models' receipts equal a recomputation from the log.
- An undo whose save fails is retried on stored state (it was "already undone" before).
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Any
from uuid import UUID

import pytest
from ledger_testkit import receipts_from_log
from race_kit import check_log, ingest, support

from domain.errors import SessionNotInProgress
from domain.infra.database import Database
from domain.ledger import Ledger
from domain.session import Session
from domain.values import Context
from projections import ReadModels

CTX = Context("tester", "corr")
RACE_SECONDS = 3.0


def test_a_reset_between_load_and_save_refuses_the_batch(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Old code: the batch was acknowledged into the session the reset had just removed."""
    a, b = Ledger(database=database), Ledger(database=database)
    try:
        rid = a.register(CTX, product="p", file_id="f").registration_id
        sid = a.start_session(CTX, rid, sync_type="time").session_id
        a.record_batch(CTX, rid, sid, [["T", "k0", "d"]])
        b.get_session(rid, sid)  # warm b's cache too
        split = Session.split_batch
        raced: list[int] = []

        def racing_split(self: Session, records: list[Any]) -> Any:
            if not raced:  # another process resets after this one loaded its aggregates
                raced.append(
                    b.reset_registration(CTX, rid, reason="r", confirm_file_id="f").position
                )
            return split(self, records)

        monkeypatch.setattr(Session, "split_batch", racing_split)
        with pytest.raises(SessionNotInProgress) as refused:
            a.record_batch(CTX, rid, sid, [["T", "k1", "d"]])
        assert refused.value.details["status"] == "reset"
        assert raced and a.get_session(rid, sid).records_synced == 1
        assert receipts_from_log(a, rid) == {}
        # The undo of the reset gives the session back, and it takes records again.
        a.undo(CTX, raced[0], reason="mistake")
        assert a.record_batch(CTX, rid, sid, [["T", "k1", "d"]]).accepted == 1
    finally:
        a.close()
        b.close()


def test_a_deletion_between_load_and_save_refuses_the_batch(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = Ledger(database=database), Ledger(database=database)
    try:
        rid = a.register(CTX, product="p", file_id="f").registration_id
        sid = a.start_session(CTX, rid, sync_type="time").session_id
        split = Session.split_batch
        raced: list[int] = []

        def racing_split(self: Session, records: list[Any]) -> Any:
            if not raced:
                raced.append(b.delete_session(CTX, rid, sid, reason="stuck").position)
            return split(self, records)

        monkeypatch.setattr(Session, "split_batch", racing_split)
        with pytest.raises(SessionNotInProgress) as refused:
            a.record_batch(CTX, rid, sid, [["T", "k1", "d"]])
        assert refused.value.details["status"] == "deleted"
    finally:
        a.close()
        b.close()


def test_a_failed_save_during_an_undo_leaves_nothing_cached(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding 6: the undo loaded the session outside the evicting loader, so after a failed
    save the cached copy said "restored" and the retry was refused as already undone."""
    ledger = Ledger(database=database)
    try:
        rid = ledger.register(CTX, product="p", file_id="f").registration_id
        sid = ledger.start_session(CTX, rid, sync_type="time").session_id
        ledger.record_batch(CTX, rid, sid, [["T", "k0", "d"]])
        deleted = ledger.delete_session(CTX, rid, sid, reason="r", override=True, ticket="T")
        save = ledger.save

        def failing_save(*aggregates: Any, **kwargs: Any) -> Any:
            monkeypatch.setattr(ledger, "save", save)
            raise OSError("disk full")

        monkeypatch.setattr(ledger, "save", failing_save)
        with pytest.raises(OSError):
            ledger.undo(CTX, deleted.position, reason="mistake")
        assert ledger.get_session(rid, sid).deleted is not None
        undone = ledger.undo(CTX, deleted.position, reason="mistake")
        assert undone.kind == "deletion"
        assert ledger.get_session(rid, sid).deleted is None
    finally:
        ledger.close()


def _race_url(database: Database) -> str:
    return database.url


def test_processes_racing_destructive_actions_against_ingest(database: Database) -> None:
    ledger = Ledger(database=database)
    models = ReadModels(database)
    try:
        rid = ledger.register(CTX, product="p", file_id="f").registration_id
        url = database.url
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=3, mp_context=spawn) as pool:
            futures = [
                pool.submit(ingest, url, str(rid), "w1", RACE_SECONDS),
                pool.submit(ingest, url, str(rid), "w2", RACE_SECONDS),
                pool.submit(support, url, str(rid), RACE_SECONDS, 7),
            ]
            accepted = futures[0].result() + futures[1].result()
            actions = futures[2].result()
        counts = check_log(ledger, rid)
        assert counts["batches"] == accepted > 0
        assert actions > 0 and counts["resets"] + counts["deletions"] > 0
        models.run_once()
        assert models.position() == ledger.current_position()
        current = receipts_from_log(ledger, rid)
        read: dict[tuple[str, str], str] = {}
        cursor = None
        while True:
            page = models.receipts(UUID(str(rid)), limit=1000, cursor=cursor)
            for item in page.items:
                read[(item["entity_type"], item["key"])] = item["session_id"]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert read == {k: sid for k, (sid, _) in current.items()}
    finally:
        models.close()
        ledger.close()
