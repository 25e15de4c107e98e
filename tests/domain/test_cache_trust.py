"""A command's first try trusts this process's cache; the save (or a second, checked try)
catches every change another process made behind its back (domain/unit_of_work.py,
"Trusting the cache").

Ledger `a` is the API process with its cache warm; ledger `b` is another process (a second
server, the command line) writing to the same log. Each test has `b` change what `a` has
cached in a way that changes `a`'s next answer, on both backends.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.errors import LedgerError
from domain.ledger import Ledger
from domain.values import Context
from tests.domain.ledger_testkit import all_events

CTX = Context("tester", "corr")


def warm(a: Ledger) -> tuple[Any, str]:
    rid = a.register(CTX, product="p", file_id="f").registration_id
    sid = a.start_session(CTX, rid, sync_type="time").session_id
    a.heartbeat(CTX, rid, sid)  # both aggregates are now in a's cache
    return rid, sid


def kinds(ledger: Ledger) -> list[str]:
    return [type(e).__qualname__ for _, e in all_events(ledger)]


def test_a_saved_aggregate_that_moved_on_collides_and_is_decided_again(
    ledgers: tuple[Ledger, Ledger],
) -> None:
    a, b = ledgers
    rid, sid = warm(a)
    b.complete_session(CTX, rid, sid)
    # a's cached session is still in progress; its heartbeat would be version n+1, which
    # the completion took: the save collides, the command runs on fresh state, refuses.
    with pytest.raises(LedgerError):
        a.heartbeat(CTX, rid, sid)
    assert kinds(a)[-1] == "Session.Completed"


def test_a_registration_only_read_is_guarded(ledgers: tuple[Ledger, Ledger]) -> None:
    """Flagging a session stuck (rule 15) saves the session alone; the registration it
    read (stuck_after_minutes) is guarded. Support raised the threshold elsewhere: the
    flag must not be recorded on a's stale threshold."""
    a, b = ledgers
    rid, sid = warm(a)
    a.update_settings(CTX, rid, {"stuck_after_minutes": 10})  # a caches 10
    b.update_settings(CTX, rid, {"stuck_after_minutes": 600})  # the registration moves on
    later = datetime.now(UTC) + timedelta(minutes=20)  # stuck at 10, not at 600
    assert a.flag_stuck(rid, sid, now=later) is None
    assert "Session.FlaggedStuck" not in kinds(a)
    b.update_settings(CTX, rid, {"stuck_after_minutes": 10})
    assert a.flag_stuck(rid, sid, now=later) is not None  # and with 10 it is flagged


def test_a_refusal_on_cached_state_is_decided_again_on_the_log(
    ledgers: tuple[Ledger, Ledger],
) -> None:
    """a's cache says the session was deleted; b undid the deletion. A refusal on the
    cached state alone would be wrong: the command is decided again on checked state."""
    a, b = ledgers
    rid, sid = warm(a)
    deleted = a.delete_session(CTX, rid, sid, reason="stuck", override=True, ticket="T-1")
    b.undo(CTX, deleted.position, reason="it was not stuck")
    a.heartbeat(CTX, rid, sid)  # accepted: the session is back
    assert kinds(a)[-1] == "Session.Heartbeat"


def test_an_answer_that_saves_nothing_is_decided_on_checked_state(
    ledgers: tuple[Ledger, Ledger],
) -> None:
    """Rule 14: asking again for a pending kind returns that request and saves nothing.
    a's cache still has the request pending; b cancelled it: a new one must be made."""
    a, b = ledgers
    rid, _ = warm(a)
    first = a.request_sync(CTX, rid, kind="periodic")
    b.cancel_sync_request(CTX, rid, first.request_id, reason="not needed")
    again = a.request_sync(CTX, rid, kind="periodic")
    assert again.created and again.request_id != first.request_id


def test_a_warm_command_reads_nothing_before_its_save(
    ledgers: tuple[Ledger, Ledger], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The point of trusting the cache: a heartbeat on cached aggregates asks the log
    nothing before saving (the library's fast-forward asked once per aggregate)."""
    a, _ = ledgers
    rid, sid = warm(a)
    reads: list[Any] = []
    real = a.repository.event_store.get

    def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append(args or kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(a.repository.event_store, "get", counted)
    a.heartbeat(CTX, rid, sid)
    a.record_error(CTX, rid, sid, message="timeout")
    assert reads == []
    assert kinds(a)[-2:] == ["Session.Heartbeat", "Session.ErrorRecorded"]


def test_a_registration_this_process_never_saw_is_taken_as_new_and_checked(
    ledgers: tuple[Ledger, Ledger],
) -> None:
    """A register on a cold cache does not look the id up first: it creates, and the save
    collides with the log's version 1 when the registration exists. The answer is then the
    one the log's state gives (an idempotent repeat; rule 13's refusal for another holder)."""
    a, b = ledgers
    made = b.register(CTX, product="p", file_id="f", worker="agent-1")
    assert made.created
    again = a.register(CTX, product="p", file_id="f", worker="agent-1")
    assert not again.created and again.registration_id == made.registration_id
    with pytest.raises(LedgerError):
        a.register(CTX, product="p", file_id="f", worker="agent-2")  # held by agent-1
    assert kinds(a).count("Registration.Registered") == 1
    fresh = a.register(CTX, product="p", file_id="new")  # a new one still goes straight in
    assert fresh.created and kinds(a).count("Registration.Registered") == 2
