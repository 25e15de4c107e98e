"""Finding 1 (issue 10): user text must never collide with the transcoder's own markers.

Sync types named `_type_` and `_data_` once made a reset + undo (or a snapshot of a
registration that ran both types) store a dict whose keys were exactly the transcoder's
custom-type markers: the event no longer decoded, verification failed, and after a restart
the registration could never be written again. Each test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from uuid import UUID

from domain import Context, Ledger
from domain.infra.database import Database
from domain.registration import Registration
from replay.verify import verify_log
from tests.domain.ledger_testkit import all_events, count_rows

CTX = Context("alice", "c")
HOSTILE = ("_type_", "_data_")


def _run_both(ledger: Ledger, rid: UUID, rounds: int) -> None:
    for _ in range(rounds):
        for sync_type in HOSTILE:
            sid = ledger.start_session(CTX, rid, sync_type=sync_type).session_id
            ledger.record_batch(CTX, rid, sid, [["Client List", f"k-{sync_type}", "d"]])
            ledger.complete_session(CTX, rid, sid)


def _assert_log_sound(ledger: Ledger, database: Database) -> None:
    events = list(all_events(ledger))  # raised on the old code: unknown transcoding
    assert events
    report = verify_log(database)
    assert report.undecodable == [], report.problems
    assert report.ok, report.problems


def test_reset_and_undo_with_marker_sync_types(database: Database) -> None:
    ledger = Ledger(database=database)
    rid = ledger.register(CTX, product="p", file_id="f").registration_id
    _run_both(ledger, rid, 1)
    reset = ledger.reset_registration(CTX, rid, reason="start over", confirm_file_id="f")
    ledger.undo(CTX, reset.position, reason="mistake")
    undone = [e for _, e in all_events(ledger) if isinstance(e, Registration.ResetUndone)]
    assert len(undone) == 1
    _assert_log_sound(ledger, database)
    ledger.close()

    # A restart reads the registration from the log (no cache): it must still be writable.
    again = Ledger(database=database)
    _run_both(again, rid, 1)
    _assert_log_sound(again, database)
    again.close()


def test_snapshot_of_a_registration_with_marker_sync_types(database: Database) -> None:
    ledger = Ledger(database=database)
    rid = ledger.register(CTX, product="p", file_id="f").registration_id
    _run_both(ledger, rid, 26)  # > 50 registration events: a snapshot is taken
    assert count_rows(database, "snapshots") >= 1
    _assert_log_sound(ledger, database)
    ledger.close()

    again = Ledger(database=database)  # loads from the snapshot
    _run_both(again, rid, 1)
    _assert_log_sound(again, database)
    again.close()
