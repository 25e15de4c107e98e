"""Every rule and every refusal of the ledger, with its error code, on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID, uuid4

import pytest
from ledger_testkit import all_events, count_rows, receipts_from_log, refused

from domain.errors import (
    AlreadyDeleted,
    NotFound,
    NotUndoable,
    SessionInProgress,
    SessionNotInProgress,
    UnsafeDeletion,
    ValidationFailed,
)
from domain.infra.database import Database
from domain.ledger import Ledger
from domain.registration import Registration
from domain.session import Session
from domain.values import MAX_BATCH_RECORDS, Context

WORKER = Context("worker-1", "corr-worker")
SUPPORT = Context("support-1", "corr-support")


@pytest.fixture
def ledger(database: Database) -> Iterator[Ledger]:
    app = Ledger(database=database)
    try:
        yield app
    finally:
        app.close()


@pytest.fixture
def rid(ledger: Ledger) -> UUID:
    return ledger.register(
        WORKER, product="accountlink-quickbooks", file_id="acme.qbw"
    ).registration_id


def start(ledger: Ledger, rid: UUID, sync_type: str = "time") -> str:
    return ledger.start_session(WORKER, rid, sync_type=sync_type, worker="srv1").session_id


def records(n: int, prefix: str = "k", digest: str = "d") -> list[list[str]]:
    return [["Client List", f"{prefix}{i}", f"{digest}{i}"] for i in range(n)]


def events_since(ledger: Ledger, position: int) -> list[object]:
    return [e for _, e in all_events(ledger, position + 1)]


# --- rule 1: registration ---------------------------------------------------------------


def test_register_twice_returns_the_same_registration(ledger: Ledger) -> None:
    first = ledger.register(WORKER, product="p", file_id="f", name="Acme")
    assert first.created
    second = ledger.register(WORKER, product="p", file_id="f", name="Other")
    assert second.registration_id == first.registration_id
    assert not second.created
    assert second.position == first.position == ledger.current_position()
    reg = ledger.get_registration(first.registration_id)
    assert (reg.product, reg.file_id, reg.name) == ("p", "f", "Acme")
    assert (reg.sync_interval_minutes, reg.stuck_after_minutes) == (30, 120)
    other = ledger.register(WORKER, product="p", file_id="g")
    assert other.registration_id != first.registration_id


@pytest.mark.parametrize(
    "kwargs",
    [
        {"product": "", "file_id": "f"},
        {"product": "p", "file_id": "   "},
        {"product": "p" * 201, "file_id": "f"},
        {"product": "p", "file_id": "f", "sync_interval_minutes": 0},
        {"product": "p", "file_id": "f", "stuck_after_minutes": True},
        {"product": "p", "file_id": "f", "stuck_after_minutes": 525_601},
    ],
)
def test_register_validation(ledger: Ledger, kwargs: dict[str, object]) -> None:
    e = refused(ledger, ValidationFailed, lambda: ledger.register(WORKER, **kwargs))  # type: ignore[arg-type]
    assert e.code == "validation_error"
    assert e.details["field"]


def test_not_found(ledger: Ledger, rid: UUID) -> None:
    unknown = uuid4()
    e = refused(ledger, NotFound, lambda: ledger.start_session(WORKER, unknown, sync_type="time"))
    assert e.code == "not_found"
    assert e.details["registration_id"] == str(unknown)
    sid = str(uuid4())
    e = refused(ledger, NotFound, lambda: ledger.record_batch(WORKER, rid, sid, records(1)))
    assert e.details["session_id"] == sid
    refused(ledger, NotFound, lambda: ledger.complete_session(WORKER, rid, sid))
    refused(ledger, NotFound, lambda: ledger.delete_session(SUPPORT, rid, sid, reason="x"))
    refused(ledger, NotFound, lambda: ledger.undo(SUPPORT, 10_000, reason="x"))
    refused(
        ledger,
        NotFound,
        lambda: ledger.reset_registration(SUPPORT, unknown, reason="x", confirm_file_id="f"),
    )


# --- rule 2: one in-progress session per sync type ---------------------------------------


def test_second_session_of_a_type_is_refused_and_names_the_blocker(
    ledger: Ledger, rid: UUID
) -> None:
    blocker = start(ledger, rid, "time")
    e = refused(ledger, SessionInProgress, lambda: start(ledger, rid, "time"))
    assert e.code == "session_in_progress"
    assert e.details["blocking_session_id"] == blocker
    assert e.details["sync_type"] == "time"
    custom = start(ledger, rid, "custom")  # another type is not blocked
    assert custom != blocker
    ledger.complete_session(WORKER, rid, blocker)
    start(ledger, rid, "time")


def test_same_session_id_is_idempotent(ledger: Ledger, rid: UUID) -> None:
    sid = str(uuid4())
    first = ledger.start_session(WORKER, rid, sync_type="time", session_id=sid)
    assert first.created and first.session_id == sid
    again = ledger.start_session(WORKER, rid, sync_type="time", session_id=sid)
    assert not again.created
    assert again.position == first.position == ledger.current_position()
    e = refused(
        ledger,
        ValidationFailed,
        lambda: ledger.start_session(WORKER, rid, sync_type="time", session_id="not-a-uuid"),
    )
    assert e.details["field"] == "session_id"


def test_session_starts_in_progress(ledger: Ledger, rid: UUID) -> None:
    sid = ledger.start_session(
        WORKER, rid, sync_type="full", worker="srv9", entity_types=["Client List"]
    ).session_id
    session = ledger.get_session(rid, sid)
    assert session.status == "in_progress"
    assert (session.seq, session.worker, session.entity_types) == (1, "srv9", ["Client List"])
    assert ledger.get_registration(rid).session_in_progress("full") == sid


# --- rule 3: records --------------------------------------------------------------------


def test_batch_accepted_while_in_progress(ledger: Ledger, rid: UUID) -> None:
    sid = start(ledger, rid)
    result = ledger.record_batch(WORKER, rid, sid, records(5), batch_id="b1")
    assert (result.accepted, result.duplicates, result.records_synced) == (5, 0, 5)
    assert result.position == ledger.current_position()
    event = ledger.event_at(result.position)
    assert isinstance(event, Session.RecordsSynced)
    assert event.batch_id == "b1"
    assert [list(r) for r in event.records] == records(5)


@pytest.mark.parametrize("size", [0, MAX_BATCH_RECORDS + 1])
def test_batch_size_limits(ledger: Ledger, rid: UUID, size: int) -> None:
    sid = start(ledger, rid)
    e = refused(
        ledger, ValidationFailed, lambda: ledger.record_batch(WORKER, rid, sid, records(size))
    )
    assert e.code == "validation_error"
    assert e.details["field"] == "records"


def test_batch_of_the_maximum_size_is_accepted(ledger: Ledger, rid: UUID) -> None:
    sid = start(ledger, rid)
    assert ledger.record_batch(WORKER, rid, sid, records(MAX_BATCH_RECORDS)).accepted == 10_000


@pytest.mark.parametrize(
    "bad",
    [["Client List", "k"], ["Client List", "", "d"], ["Client List", "k", 3], ["", "k", "d"]],
)
def test_malformed_record_is_refused(ledger: Ledger, rid: UUID, bad: list[object]) -> None:
    sid = start(ledger, rid)
    batch = [["Client List", "ok", "d"], bad]
    e = refused(ledger, ValidationFailed, lambda: ledger.record_batch(WORKER, rid, sid, batch))  # type: ignore[arg-type]
    assert "records[1]" in e.message


def test_same_batch_id_changes_nothing(ledger: Ledger, rid: UUID) -> None:
    sid = start(ledger, rid)
    first = ledger.record_batch(WORKER, rid, sid, records(3), batch_id="b1")
    before = ledger.current_position()
    again = ledger.record_batch(WORKER, rid, sid, records(3), batch_id="b1")
    assert ledger.current_position() == before
    assert (again.accepted, again.duplicates) == (0, 3)
    assert again.records_synced == first.records_synced == 3
    assert again.position == before
    ledger.complete_session(WORKER, rid, sid)
    # A retried batch after the session ended is still answered, not refused.
    late = ledger.record_batch(WORKER, rid, sid, records(3), batch_id="b1")
    assert late.accepted == 0


def test_duplicate_records_are_counted(ledger: Ledger, rid: UUID) -> None:
    sid = start(ledger, rid)
    ledger.record_batch(WORKER, rid, sid, records(3))
    batch = records(3)[1:] + [["Client List", "k0", "changed"], ["Client List", "new", "x"]]
    result = ledger.record_batch(WORKER, rid, sid, batch)
    assert (result.accepted, result.duplicates, result.records_synced) == (2, 2, 5)
    event = ledger.event_at(result.position)
    assert isinstance(event, Session.RecordsSynced)
    assert event.duplicates == 2
    assert [list(r) for r in event.records] == [
        ["Client List", "k0", "changed"],
        ["Client List", "new", "x"],
    ]
    session = ledger.get_session(rid, sid)
    assert (session.records_synced, session.duplicates) == (5, 2)


@pytest.mark.parametrize(
    "batch",
    [
        [["A", "z", "1"], ["A", "z", "1"]],
        [["A", "z", "1"], ["B", "z", "1"], ["A", "z", "2"]],  # a changed digest too
    ],
)
def test_a_batch_repeating_a_record_is_refused_whole(
    ledger: Ledger, rid: UUID, batch: list[list[str]]
) -> None:
    """Rule 12 (finding 3): refused whole, naming the first repeated record."""
    sid = start(ledger, rid)
    e = refused(ledger, ValidationFailed, lambda: ledger.record_batch(WORKER, rid, sid, batch))
    assert e.code == "validation_error"
    assert e.details["field"] == f"records[{len(batch) - 1}]"
    assert (e.details["entity_type"], e.details["key"], e.details["first_index"]) == ("A", "z", 0)
    assert ledger.get_session(rid, sid).records_synced == 0


# --- rule 4: errors, end of session ------------------------------------------------------


def test_errors_and_ending(ledger: Ledger, rid: UUID) -> None:
    sid = start(ledger, rid)
    pos = ledger.record_error(WORKER, rid, sid, message="timeout", entity_type="A", key="k1")
    event = ledger.event_at(pos)
    assert isinstance(event, Session.ErrorRecorded)
    assert (event.message, event.entity_type, event.key) == ("timeout", "A", "k1")
    ledger.record_error(WORKER, rid, sid, message="generic")
    assert ledger.get_session(rid, sid).error_count == 2
    refused(ledger, ValidationFailed, lambda: ledger.record_error(WORKER, rid, sid, message=""))
    done = ledger.complete_session(WORKER, rid, sid)
    assert done == ledger.current_position()
    assert ledger.complete_session(WORKER, rid, sid) == done  # retried: nothing new
    session = ledger.get_session(rid, sid)
    assert session.status == "completed" and session.ended_at is not None

    other = start(ledger, rid)
    refused(ledger, ValidationFailed, lambda: ledger.fail_session(WORKER, rid, other, reason=""))
    ledger.fail_session(WORKER, rid, other, reason="disk full")
    session = ledger.get_session(rid, other)
    assert (session.status, session.fail_reason) == ("failed", "disk full")


def _assert_not_in_progress(ledger: Ledger, rid: UUID, sid: str, status: str) -> None:
    for call in (
        lambda: ledger.record_batch(WORKER, rid, sid, records(1, prefix="late")),
        lambda: ledger.record_error(WORKER, rid, sid, message="late"),
        lambda: (
            ledger.fail_session(WORKER, rid, sid, reason="late")
            if status != "failed"
            else ledger.complete_session(WORKER, rid, sid)
        ),
    ):
        e = refused(ledger, SessionNotInProgress, call)
        assert e.code == "session_not_in_progress"
        assert e.details["status"] == status
        assert e.details["session_id"] == sid


@pytest.mark.parametrize("end", ["completed", "failed", "deleted", "reset"])
def test_ended_sessions_take_no_more_records(ledger: Ledger, rid: UUID, end: str) -> None:
    sid = start(ledger, rid)
    ledger.record_batch(WORKER, rid, sid, records(2))
    if end == "completed":
        ledger.complete_session(WORKER, rid, sid)
    elif end == "failed":
        ledger.fail_session(WORKER, rid, sid, reason="crash")
    elif end == "deleted":
        ledger.delete_session(SUPPORT, rid, sid, reason="r", override=True, ticket="T-1")
    else:
        ledger.reset_registration(SUPPORT, rid, reason="r", confirm_file_id="acme.qbw")
    _assert_not_in_progress(ledger, rid, sid, end)


# --- rule 5: deletion check ---------------------------------------------------------------


def test_stuck_session_is_safe_to_delete(ledger: Ledger, rid: UUID) -> None:
    sid = start(ledger, rid)
    assert ledger.check_deletion(rid, sid).safe
    result = ledger.delete_session(SUPPORT, rid, sid, reason="stuck since August")
    assert result.unsynced == 0
    assert result.position == ledger.current_position()
    session = ledger.get_session(rid, sid)
    assert session.deleted is not None
    assert (session.deleted["by"], session.deleted["reason"]) == ("support-1", "stuck since August")
    assert ledger.get_registration(rid).session_in_progress("time") is None
    start(ledger, rid)  # the type is no longer blocked


def test_unsafe_deletion_lists_failed_checks(ledger: Ledger, rid: UUID) -> None:
    old = start(ledger, rid)
    ledger.record_batch(WORKER, rid, old, records(2))
    ledger.complete_session(WORKER, rid, old)
    start(ledger, rid)
    assert ledger.check_deletion(rid, old).failed_checks == (
        "has_records",
        "not_in_progress",
        "not_most_recent",
    )
    e = refused(
        ledger, UnsafeDeletion, lambda: ledger.delete_session(SUPPORT, rid, old, reason="r")
    )
    assert e.code == "unsafe_deletion"
    assert e.details["failed_checks"] == ["has_records", "not_in_progress", "not_most_recent"]
    preview = ledger.preview_deletion(rid, old)
    assert preview.would_unsync == 2 and not preview.check.safe


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("records", ["has_records"]),
        ("completed", ["not_in_progress"]),
        ("older", ["not_most_recent"]),
    ],
)
def test_each_failed_check_alone(
    ledger: Ledger, rid: UUID, setup: str, expected: list[str]
) -> None:
    sid = start(ledger, rid)
    if setup == "records":
        ledger.record_batch(WORKER, rid, sid, records(1))
    elif setup == "completed":
        ledger.complete_session(WORKER, rid, sid)
    else:
        # An in-progress session with no records that is not the newest of its type: a
        # newer one was started after it was reinstated... build it via a deletion undo.
        first = sid
        ledger.delete_session(SUPPORT, rid, first, reason="stuck")
        newer = start(ledger, rid)
        ledger.complete_session(WORKER, rid, newer)
        deletion = [p for p, e in all_events(ledger) if isinstance(e, Session.Deleted)][0]
        ledger.undo(SUPPORT, deletion, reason="wrong one")
        assert ledger.get_session(rid, first).in_progress
    e = refused(
        ledger, UnsafeDeletion, lambda: ledger.delete_session(SUPPORT, rid, sid, reason="r")
    )
    assert e.details["failed_checks"] == expected


def test_override_needs_a_ticket(ledger: Ledger, rid: UUID) -> None:
    sid = start(ledger, rid)
    ledger.record_batch(WORKER, rid, sid, records(2))
    for ticket in (None, "", "  "):
        e = refused(
            ledger,
            ValidationFailed,
            lambda t=ticket: ledger.delete_session(
                SUPPORT, rid, sid, reason="r", override=True, ticket=t
            ),
        )
        assert e.details["field"] == "ticket"
    result = ledger.delete_session(SUPPORT, rid, sid, reason="r", override=True, ticket="SUP-42")
    assert result.unsynced == 2
    deleted = ledger.event_at(result.position - 1)
    assert isinstance(deleted, Session.Deleted)
    assert (deleted.override, deleted.ticket, deleted.failed_checks) == (
        True,
        "SUP-42",
        ["has_records"],
    )


def test_reason_is_required(ledger: Ledger, rid: UUID) -> None:
    sid = start(ledger, rid)
    for reason in ("", "   "):
        e = refused(
            ledger,
            ValidationFailed,
            lambda r=reason: ledger.delete_session(SUPPORT, rid, sid, reason=r),
        )
        assert e.details["field"] == "reason"
        refused(
            ledger,
            ValidationFailed,
            lambda r=reason: ledger.reset_registration(
                SUPPORT, rid, reason=r, confirm_file_id="acme.qbw"
            ),
        )
    deleted = ledger.delete_session(SUPPORT, rid, sid, reason="stuck")
    refused(ledger, ValidationFailed, lambda: ledger.undo(SUPPORT, deleted.position, reason=""))


def test_already_deleted(ledger: Ledger, rid: UUID) -> None:
    sid = start(ledger, rid)
    ledger.delete_session(SUPPORT, rid, sid, reason="stuck")
    e = refused(
        ledger, AlreadyDeleted, lambda: ledger.delete_session(SUPPORT, rid, sid, reason="again")
    )
    assert e.code == "already_deleted"
    assert e.details["session_id"] == sid
    other = start(ledger, rid)
    ledger.reset_registration(SUPPORT, rid, reason="r", confirm_file_id="acme.qbw")
    e = refused(
        ledger,
        AlreadyDeleted,
        lambda: ledger.delete_session(SUPPORT, rid, other, reason="x", override=True, ticket="T"),
    )
    assert e.details["session_id"] == other


# --- rule 6: deletion unsyncs, with fallback ---------------------------------------------


def test_deletion_unsyncs_and_falls_back(ledger: Ledger, rid: UUID) -> None:
    old = start(ledger, rid)
    ledger.record_batch(WORKER, rid, old, [["A", "k1", "old1"], ["A", "k2", "old2"]])
    ledger.complete_session(WORKER, rid, old)
    new = start(ledger, rid)
    ledger.record_batch(WORKER, rid, new, [["A", "k1", "new1"], ["A", "k3", "new3"]])
    assert receipts_from_log(ledger, rid) == {
        ("A", "k1"): (new, "new1"),
        ("A", "k2"): (old, "old2"),
        ("A", "k3"): (new, "new3"),
    }
    result = ledger.delete_session(SUPPORT, rid, new, reason="bad", override=True, ticket="T-9")
    assert result.unsynced == 2
    assert receipts_from_log(ledger, rid) == {
        ("A", "k1"): (old, "old1"),
        ("A", "k2"): (old, "old2"),
    }
    unsynced = ledger.event_at(result.position)
    assert isinstance(unsynced, Session.ReceiptsUnsynced)
    assert unsynced.session_id == new
    assert unsynced.registration_id == str(rid)
    assert unsynced.receipts == 2
    assert unsynced.records == []  # finding 9: the keys are the session's own events


def test_deletion_saves_three_events_in_order(ledger: Ledger, rid: UUID) -> None:
    sid = start(ledger, rid)
    before = ledger.current_position()
    result = ledger.delete_session(SUPPORT, rid, sid, reason="stuck")
    kinds = [type(e) for e in events_since(ledger, before)]
    assert kinds == [Registration.SessionRemoved, Session.Deleted, Session.ReceiptsUnsynced]
    assert result.position == before + 3


# --- rule 7: reset ----------------------------------------------------------------------


def test_reset_needs_file_id_confirmation(ledger: Ledger, rid: UUID) -> None:
    for confirm in ("", "ACME.QBW", "acme"):
        e = refused(
            ledger,
            ValidationFailed,
            lambda c=confirm: ledger.reset_registration(
                SUPPORT, rid, reason="r", confirm_file_id=c
            ),
        )
        assert e.details["field"] == "confirm_file_id"


def test_reset_removes_history_and_is_readable_on_its_own(database: Database) -> None:
    app = Ledger(database=database)
    try:
        rid = app.register(WORKER, product="p", file_id="f").registration_id
        done = start(app, rid, "time")
        app.record_batch(WORKER, rid, done, records(3))
        app.complete_session(WORKER, rid, done)
        stuck = start(app, rid, "time")
        before = app.current_position()
        result = app.reset_registration(SUPPORT, rid, reason="start over", confirm_file_id="f")
        # The audit event records what the log determines (the cutoff), never a count
        # copied from a read model (which may lag).
        assert (result.sessions_up_to_seq, result.receipts) == (2, None)
        assert result.position == app.current_position() == before + 3
        hidden, reset, unsynced = events_since(app, before)
        # Finding 2: the in-progress session it removes records that on itself too.
        assert isinstance(hidden, Session.HiddenByReset) and hidden.originator_id == (
            app.get_session(rid, stuck).id
        )
        assert isinstance(reset, Registration.RegistrationReset)
        assert (reset.reason, reset.cutoff, reset.undo_of) == ("start over", 2, None)
        assert reset.in_progress_removed == [[stuck, "time", 2]]
        assert isinstance(unsynced, Registration.ReceiptsUnsynced)
        assert (unsynced.sessions_up_to_seq, unsynced.receipts) == (2, None)
        assert unsynced.reset_version == reset.originator_version
        assert receipts_from_log(app, rid) == {}
        reg = app.get_registration(rid)
        assert reg.session_in_progress("time") is None and reg.reset_cutoff == 2
        newer = start(app, rid, "time")
        assert app.get_session(rid, newer).seq == 3
    finally:
        app.close()


# --- rule 8: undo -------------------------------------------------------------------------


def test_undo_deletion_brings_back_receipts_and_session(ledger: Ledger, rid: UUID) -> None:
    sid = start(ledger, rid)
    ledger.record_batch(WORKER, rid, sid, records(4))
    before_receipts = receipts_from_log(ledger, rid)
    deleted = ledger.delete_session(SUPPORT, rid, sid, reason="r", override=True, ticket="T")
    assert receipts_from_log(ledger, rid) == {}
    undone = ledger.undo(SUPPORT, deleted.position, reason="mistake")
    assert (undone.kind, undone.session_id, undone.registration_id) == ("deletion", sid, rid)
    assert undone.undone == deleted.position - 1  # the Deleted event
    assert undone.position == ledger.current_position()
    (restored,) = [
        e for e in events_since(ledger, deleted.position) if isinstance(e, Session.Restored)
    ]
    assert (restored.undo_of, restored.reopened) == (deleted.position - 1, True)
    assert receipts_from_log(ledger, rid) == before_receipts
    assert ledger.get_session(rid, sid).in_progress
    assert ledger.get_registration(rid).session_in_progress("time") == sid
    ledger.record_batch(WORKER, rid, sid, records(1, prefix="more"))


def test_undo_of_undo(ledger: Ledger, rid: UUID) -> None:
    sid = start(ledger, rid)
    ledger.record_batch(WORKER, rid, sid, records(2))
    ledger.complete_session(WORKER, rid, sid)
    deleted = ledger.delete_session(SUPPORT, rid, sid, reason="r", override=True, ticket="T")
    restore = ledger.undo(SUPPORT, deleted.position - 1, reason="back")
    redelete = ledger.undo(SUPPORT, restore.position, reason="delete it after all")
    assert redelete.kind == "restoration"
    again = ledger.event_at(redelete.position - 1)
    assert isinstance(again, Session.Deleted)
    assert again.undo_of == restore.position
    assert receipts_from_log(ledger, rid) == {}
    assert ledger.get_session(rid, sid).deleted is not None
    back = ledger.undo(SUPPORT, redelete.position, reason="and back")
    assert back.kind == "deletion"
    assert set(receipts_from_log(ledger, rid)) == {("Client List", "k0"), ("Client List", "k1")}
    # Undoing the middle of the chain again is refused: only the latest change may be undone.
    e = refused(ledger, NotUndoable, lambda: ledger.undo(SUPPORT, restore.position, reason="x"))
    assert e.code == "not_undoable"


def test_reset_undo_and_undo_of_undo(ledger: Ledger, rid: UUID) -> None:
    a = start(ledger, rid, "time")
    ledger.record_batch(WORKER, rid, a, records(3))
    ledger.complete_session(WORKER, rid, a)
    b = start(ledger, rid, "custom")
    ledger.record_batch(WORKER, rid, b, records(2, prefix="c"))
    before = receipts_from_log(ledger, rid)
    reset = ledger.reset_registration(SUPPORT, rid, reason="r", confirm_file_id="acme.qbw")
    undone = ledger.undo(SUPPORT, reset.position, reason="wrong registration")
    assert undone.kind == "reset"
    event = ledger.event_at(undone.position)
    assert isinstance(event, Registration.ResetUndone)
    assert event.undo_of == reset.position - 1
    assert event.reopened == [[b, "custom", 2]]
    assert receipts_from_log(ledger, rid) == before
    assert ledger.get_registration(rid).session_in_progress("custom") == b
    redo = ledger.undo(SUPPORT, undone.position, reason="reset after all")
    assert redo.kind == "reset_undo"
    assert receipts_from_log(ledger, rid) == {}
    back = ledger.undo(SUPPORT, redo.position, reason="no")
    assert back.kind == "reset"
    assert receipts_from_log(ledger, rid) == before
    refused(ledger, NotUndoable, lambda: ledger.undo(SUPPORT, reset.position, reason="x"))


def test_not_undoable_when_not_destructive(ledger: Ledger, rid: UUID) -> None:
    sid = start(ledger, rid)
    batch = ledger.record_batch(WORKER, rid, sid, records(1))
    e = refused(ledger, NotUndoable, lambda: ledger.undo(SUPPORT, batch.position, reason="x"))
    assert e.code == "not_undoable"
    assert e.details["position"] == batch.position
    refused(ledger, NotUndoable, lambda: ledger.undo(SUPPORT, 1, reason="x"))


def test_not_undoable_when_already_undone(ledger: Ledger, rid: UUID) -> None:
    sid = start(ledger, rid)
    deleted = ledger.delete_session(SUPPORT, rid, sid, reason="stuck")
    ledger.undo(SUPPORT, deleted.position, reason="back")
    for position in (deleted.position, deleted.position - 1):
        e = refused(ledger, NotUndoable, lambda p=position: ledger.undo(SUPPORT, p, reason="again"))
        assert e.code == "not_undoable"


def test_not_undoable_when_it_would_create_two_in_progress(ledger: Ledger, rid: UUID) -> None:
    stuck = start(ledger, rid)
    deleted = ledger.delete_session(SUPPORT, rid, stuck, reason="stuck")
    newer = start(ledger, rid)
    e = refused(ledger, NotUndoable, lambda: ledger.undo(SUPPORT, deleted.position, reason="x"))
    assert e.details["blocking_session_id"] == newer
    ledger.complete_session(WORKER, rid, newer)
    ledger.undo(SUPPORT, deleted.position, reason="now it can")
    assert ledger.get_registration(rid).session_in_progress("time") == stuck


def test_reset_undo_refused_when_it_would_create_two_in_progress(ledger: Ledger, rid: UUID) -> None:
    stuck = start(ledger, rid)
    reset = ledger.reset_registration(SUPPORT, rid, reason="r", confirm_file_id="acme.qbw")
    newer = start(ledger, rid)
    e = refused(ledger, NotUndoable, lambda: ledger.undo(SUPPORT, reset.position, reason="x"))
    assert e.code == "not_undoable"
    assert e.details["blocking_session_id"] == newer
    ledger.fail_session(WORKER, rid, newer, reason="f")
    ledger.undo(SUPPORT, reset.position, reason="ok")
    assert ledger.get_registration(rid).session_in_progress("time") == stuck


def test_not_undoable_when_removed_by_a_later_reset(ledger: Ledger, rid: UUID) -> None:
    sid = start(ledger, rid)
    ledger.record_batch(WORKER, rid, sid, records(1))
    ledger.complete_session(WORKER, rid, sid)
    deleted = ledger.delete_session(SUPPORT, rid, sid, reason="r", override=True, ticket="T")
    reset = ledger.reset_registration(SUPPORT, rid, reason="r", confirm_file_id="acme.qbw")
    e = refused(ledger, NotUndoable, lambda: ledger.undo(SUPPORT, deleted.position, reason="x"))
    assert e.code == "not_undoable"
    # After undoing the reset the deletion can be undone.
    ledger.undo(SUPPORT, reset.position, reason="r")
    ledger.undo(SUPPORT, deleted.position, reason="r")
    assert set(receipts_from_log(ledger, rid)) == {("Client List", "k0")}


def test_undone_deletion_is_not_resurrected_over_newer_receipts(ledger: Ledger, rid: UUID) -> None:
    old = start(ledger, rid)
    ledger.record_batch(WORKER, rid, old, [["A", "k", "old"]])
    ledger.complete_session(WORKER, rid, old)
    deleted = ledger.delete_session(SUPPORT, rid, old, reason="r", override=True, ticket="T")
    new = start(ledger, rid)
    ledger.record_batch(WORKER, rid, new, [["A", "k", "new"]])
    ledger.undo(SUPPORT, deleted.position, reason="r")
    assert receipts_from_log(ledger, rid) == {("A", "k"): (new, "new")}


# --- rule 9: sync requests ----------------------------------------------------------------


def test_sync_requests(ledger: Ledger, rid: UUID) -> None:
    e = refused(ledger, ValidationFailed, lambda: ledger.request_sync(SUPPORT, rid, kind="full"))
    assert e.details["field"] == "confirm"
    e = refused(ledger, ValidationFailed, lambda: ledger.request_sync(SUPPORT, rid, kind="weekly"))
    assert e.details["field"] == "kind"
    full = ledger.request_sync(SUPPORT, rid, kind="full", confirm=True)
    periodic = ledger.request_sync(SUPPORT, rid, kind="periodic")
    assert periodic.position == ledger.current_position()
    event = ledger.event_at(full.position)
    assert isinstance(event, Registration.SyncRequested)
    assert (event.kind, event.confirmed, event.request_id) == ("full", True, full.request_id)
    assert ledger.get_registration(rid).pending_requests == {
        full.request_id: "full",
        periodic.request_id: "periodic",
    }
    e = refused(
        ledger,
        ValidationFailed,
        lambda: ledger.start_session(WORKER, rid, sync_type="full", request_id=str(uuid4())),
    )
    assert e.details["field"] == "request_id"
    before = ledger.current_position()
    sid = ledger.start_session(WORKER, rid, sync_type="full", request_id=full.request_id).session_id
    kinds = {type(e): e for e in events_since(ledger, before)}
    fulfilled = kinds[Registration.SyncRequestFulfilled]
    assert isinstance(fulfilled, Registration.SyncRequestFulfilled)
    assert (fulfilled.request_id, fulfilled.session_id) == (full.request_id, sid)
    assert ledger.get_session(rid, sid).request_id == full.request_id
    assert ledger.get_registration(rid).pending_requests == {periodic.request_id: "periodic"}
    ledger.complete_session(WORKER, rid, sid)
    refused(
        ledger,
        ValidationFailed,
        lambda: ledger.start_session(WORKER, rid, sync_type="full", request_id=full.request_id),
    )


# --- rule 11 and plumbing -------------------------------------------------------------------


def test_every_event_carries_actor_correlation_and_time(ledger: Ledger) -> None:
    contexts = [Context(f"actor-{i}", f"corr-{i}") for i in range(8)]
    rid = ledger.register(contexts[0], product="p", file_id="f").registration_id
    sid = ledger.start_session(contexts[1], rid, sync_type="time").session_id
    ledger.record_batch(contexts[2], rid, sid, records(2))
    ledger.record_error(contexts[3], rid, sid, message="m")
    deleted = ledger.delete_session(contexts[4], rid, sid, reason="r", override=True, ticket="T")
    ledger.undo(contexts[5], deleted.position, reason="r")
    reset = ledger.reset_registration(contexts[6], rid, reason="r", confirm_file_id="f")
    ledger.undo(contexts[7], reset.position, reason="r")
    ledger.request_sync(contexts[0], rid, kind="periodic")
    seen = set()
    for _, event in all_events(ledger):
        assert event.actor.startswith("actor-")
        assert event.correlation_id == "corr-" + event.actor.removeprefix("actor-")
        assert event.timestamp.tzinfo is not None
        seen.add(event.actor)
    assert seen == {c.actor for c in contexts}


def test_positions_are_the_last_recorded_event(ledger: Ledger) -> None:
    reg = ledger.register(WORKER, product="p", file_id="f")
    assert reg.position == ledger.current_position()
    rid = reg.registration_id
    results: list[int] = []
    started = ledger.start_session(WORKER, rid, sync_type="time")
    results.append(started.position)
    sid = started.session_id
    results.append(ledger.record_batch(WORKER, rid, sid, records(2)).position)
    results.append(ledger.record_error(WORKER, rid, sid, message="m"))
    deleted = ledger.delete_session(SUPPORT, rid, sid, reason="r", override=True, ticket="T")
    results.append(deleted.position)
    assert isinstance(ledger.event_at(deleted.position), Session.ReceiptsUnsynced)
    undo = ledger.undo(SUPPORT, deleted.position, reason="r")
    results.append(undo.position)
    results.append(ledger.complete_session(WORKER, rid, sid))
    results.append(ledger.request_sync(SUPPORT, rid, kind="periodic").position)
    reset = ledger.reset_registration(SUPPORT, rid, reason="r", confirm_file_id="f")
    results.append(reset.position)
    assert results == sorted(results) and len(set(results)) == len(results)
    assert reset.position == ledger.current_position()
    assert ledger.event_at(reset.position + 1) is None
    assert ledger.event_at(started.position) is not None


def test_refused_commands_leave_no_half_applied_state(ledger: Ledger, rid: UUID) -> None:
    sid = start(ledger, rid)
    ledger.record_batch(WORKER, rid, sid, records(1))
    refused(ledger, SessionInProgress, lambda: start(ledger, rid))
    refused(ledger, UnsafeDeletion, lambda: ledger.delete_session(SUPPORT, rid, sid, reason="r"))
    refused(
        ledger,
        ValidationFailed,
        lambda: ledger.reset_registration(SUPPORT, rid, reason="r", confirm_file_id="nope"),
    )
    # The cached aggregates were evicted; the real state is what the log says.
    fresh = Ledger(database=ledger.database)
    try:
        assert fresh.get_registration(rid) == ledger.get_registration(rid)
        assert vars(fresh.get_session(rid, sid)) == vars(ledger.get_session(rid, sid))
    finally:
        fresh.close()


def test_snapshots_and_fresh_ledger_equals_live(
    database: Database, ledger: Ledger, rid: UUID
) -> None:
    for i in range(30):
        sid = start(ledger, rid, "time" if i % 2 else "custom")
        ledger.record_batch(WORKER, rid, sid, records(2, prefix=f"s{i}-"))
        ledger.complete_session(WORKER, rid, sid)
    reset = ledger.reset_registration(SUPPORT, rid, reason="r", confirm_file_id="acme.qbw")
    ledger.undo(SUPPORT, reset.position, reason="r")
    ledger.request_sync(SUPPORT, rid, kind="periodic")
    live = ledger.get_registration(rid)
    assert live.version > 50
    assert count_rows(database, "snapshots") >= 1
    fresh = Ledger(database=database)
    try:
        loaded = fresh.get_registration(rid)
        assert loaded == live
        assert fresh.repository.get(rid, version=live.version) == live
        assert fresh.get_session(rid, sid) == ledger.get_session(rid, sid)
    finally:
        fresh.close()


def test_a_version_1_snapshot_upcasts_to_the_bounded_most_recent_state() -> None:
    """Snapshots taken before domain/recent.py kept reset-hidden sessions apart."""
    state: dict[str, object] = {
        "recent": {"time": [["a", 1], ["c", 5]]},
        "hidden_recent": {"time": [["b", 3]], "custom": [["d", 2]]},
    }
    Registration.upcast_v1_v2(state)
    assert state["recent"] == {"time": [["c", 5]], "custom": [["d", 2]]}
    assert state["truncated"] == {"time": True, "custom": True}
    assert "hidden_recent" not in state
