from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from replay_history import CTX, build_history

from domain import Database, Ledger, Registration
from replay.asof import history_as_of

Summary = list[tuple[Any, ...]]


def from_aggregates(ledger: Ledger, rid: UUID) -> Summary:
    """The session history as the domain aggregates hold it right now."""
    try:
        reg = ledger.get_registration(rid)
    except Exception:
        return []
    session_ids = [
        e.session_id for e in ledger.events.get(rid) if isinstance(e, Registration.SessionOpened)
    ]
    rows = []
    for sid in session_ids:
        s = ledger.get_session(rid, sid)
        rows.append(
            (
                s.session_id,
                s.seq,
                s.sync_type,
                s.status,
                s.records_synced,
                s.error_count,
                s.worker,
                s.deleted is not None,
                s.seq <= reg.reset_cutoff,
            )
        )
    return sorted(rows, key=lambda r: r[1], reverse=True)


def from_replay(items: list[dict[str, Any]]) -> Summary:
    return [
        (
            i["id"],
            i["seq"],
            i["sync_type"],
            i["status"],
            i["records_synced"],
            i["error_count"],
            i["worker"],
            i["deleted"] is not None,
            i["removed_by_reset"] is not None,
        )
        for i in items
    ]


def test_as_of_every_position_equals_history_recorded_then(database: Database) -> None:
    ledger = Ledger(database=database)
    moments: list[tuple[int, datetime, Summary]] = []
    rid_holder: list[UUID] = []

    def record(led: Ledger) -> None:
        rid = rid_holder[0]
        moments.append((led.current_position(), datetime.now(UTC), from_aggregates(led, rid)))

    from domain import registration_id

    rid_holder.append(registration_id("accountlink", "C:/acme.qbw"))
    rid = build_history(ledger, seed=11, steps=60, after_each=record)
    assert rid == rid_holder[0]
    kinds = {type(e).__name__ for e in ledger.events.get(rid)}
    assert {"SessionRemoved", "RegistrationReset"} & kinds, "history should be destructive"
    for position, moment, expected in moments:
        assert from_replay(history_as_of(ledger, rid, position=position)) == expected, position
        assert from_replay(history_as_of(ledger, rid, at=moment)) == expected, moment
    assert history_as_of(ledger, rid, position=0) == []


def test_as_of_items_and_markers(database: Database) -> None:
    ledger = Ledger(database=database)
    rid = ledger.register(CTX, product="p", file_id="f").registration_id
    first = ledger.start_session(CTX, rid, sync_type="time", worker="srv1").session_id
    ledger.record_batch(CTX, rid, first, [["Client List", "k1", "d1"]])
    before_delete = ledger.complete_session(CTX, rid, first)
    deleted = ledger.delete_session(CTX, rid, first, reason="dup", override=True, ticket="T-9")
    [item] = history_as_of(ledger, rid, position=before_delete)
    assert item["id"] == first and item["status"] == "completed" and item["deleted"] is None
    assert item["worker"] == "srv1" and item["records_synced"] == 1
    assert item["started_at"].endswith("Z") and item["ended_at"] is not None
    [item] = history_as_of(ledger, rid, position=deleted.position)
    assert item["deleted"]["by"] == "alice" and item["deleted"]["ticket"] == "T-9"
    assert item["deleted"]["position"] == deleted.position - 1
    assert history_as_of(ledger, rid, position=deleted.position, include_deleted=False) == []
    with pytest.raises(ValueError):
        history_as_of(ledger, rid)


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_as_of_a_session_start_or_deletion_time_includes_it(database: Database) -> None:
    # Finding 7 (issue 10): the events of one transaction do not have timestamps rising with
    # their positions, so `at` equal to a session's started_at (or a deletion's time) used
    # to stop before the transaction and show the state before it.
    ledger = Ledger(database=database)
    rid = ledger.register(CTX, product="p", file_id="f").registration_id
    sid = ledger.start_session(CTX, rid, sync_type="time").session_id
    ledger.complete_session(CTX, rid, sid)
    deleted = ledger.delete_session(CTX, rid, sid, reason="dup", override=True, ticket="T-1")
    [item] = history_as_of(ledger, rid, position=deleted.position)

    [started] = history_as_of(ledger, rid, at=_when(item["started_at"]))
    assert started["id"] == sid and started["status"] == "in_progress"
    [gone] = history_as_of(ledger, rid, at=_when(item["deleted"]["at"]))
    assert (
        gone["deleted"] is not None and gone["deleted"]["position"] == item["deleted"]["position"]
    )
    assert history_as_of(ledger, rid, at=_when(item["deleted"]["at"]), include_deleted=False) == []
