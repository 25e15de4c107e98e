"""Every field of every view, after every kind of event (both backends)."""

from __future__ import annotations

from uuid import UUID

import pytest

from domain import Context, Ledger
from projections import ReadModels
from projections.reads import registrations as reg_reads
from projections.reads import sessions as session_reads


def _register(ledger: Ledger, ctx: Context, file_id: str = "acme.qbw") -> UUID:
    return ledger.register(ctx, product="accountlink", file_id=file_id, name="Acme").registration_id


def test_registration_and_session_lifecycle(
    ledger: Ledger, models: ReadModels, ctx: Context
) -> None:
    rid = _register(ledger, ctx)
    models.run_once()
    reg = models.get_registration(rid)
    assert reg is not None
    assert (reg["product"], reg["file_id"], reg["name"]) == ("accountlink", "acme.qbw", "Acme")
    assert reg["total_syncs"] == 0 and reg["receipts"] == 0
    assert reg["status"]["state"] == "idle"
    assert reg["status"]["message"].startswith("Next scheduled sync at ")
    next_sync = reg["status"]["next_scheduled_sync"]
    assert reg["status"]["message"] == (
        f"Next scheduled sync at {next_sync[:10]} {next_sync[11:16]} UTC"
    )

    sid = ledger.start_session(
        ctx, rid, sync_type="periodic", worker="srv1", entity_types=["Client List"]
    ).session_id
    ledger.record_batch(ctx, rid, sid, [["Client List", "1", "a"], ["Client List", "2", "b"]])
    ledger.record_error(ctx, rid, sid, message="boom", entity_type="Client List", key="3")
    models.run_once()
    reg = models.get_registration(rid)
    assert reg is not None
    assert reg["sessions_in_progress"] == 1 and reg["total_syncs"] == 1
    assert reg["receipts"] == 2
    assert reg["status"]["state"] == "in_progress"
    assert reg["status"]["worker"] == "srv1"
    assert reg["status"]["message"] == "Synchronisation is currently in progress on srv1"
    session = models.get_session(rid, sid)
    assert session is not None
    assert session["status"] == "in_progress" and session["records_synced"] == 2
    assert session["error_count"] == 1
    assert session["errors"][0]["message"] == "boom"
    assert session["errors"][0]["key"] == "3"
    assert session["entity_types"] == ["Client List"]
    assert session["stuck"] is False
    assert session["deletion_check"] == {"safe": False, "failed_checks": ["has_records"]}

    ledger.fail_session(ctx, rid, sid, reason="lost connection")
    models.run_once()
    session = models.get_session(rid, sid)
    assert session is not None
    assert session["status"] == "failed" and session["fail_reason"] == "lost connection"
    assert session["ended_at"] is not None
    assert session["deletion_check"]["failed_checks"] == ["has_records", "not_in_progress"]

    sid2 = ledger.start_session(ctx, rid, sync_type="periodic").session_id
    ledger.complete_session(ctx, rid, sid2)
    models.run_once()
    first = models.get_session(rid, sid)
    assert first is not None and "not_most_recent" in first["deletion_check"]["failed_checks"]
    page = models.list_sessions(rid, include_deleted=False, limit=1, cursor=None)
    assert [s["id"] for s in page.items] == [sid2]
    assert page.next_cursor is not None
    page2 = models.list_sessions(rid, include_deleted=False, limit=1, cursor=page.next_cursor)
    assert [s["id"] for s in page2.items] == [sid] and page2.next_cursor is None
    idle = models.get_registration(rid)
    assert idle is not None and idle["status"]["state"] == "idle"


def test_stuck_session(
    ledger: Ledger, models: ReadModels, ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    rid = _register(ledger, ctx)
    sid = ledger.start_session(ctx, rid, sync_type="time").session_id
    models.run_once()
    future = session_reads.now_micros() + 121 * 60_000_000
    monkeypatch.setattr(session_reads, "now_micros", lambda: future)
    monkeypatch.setattr(reg_reads, "now_micros", lambda: future)
    session = models.get_session(rid, sid)
    assert session is not None and session["stuck"] is True
    assert session["deletion_check"] == {"safe": True, "failed_checks": []}
    reg = models.get_registration(rid)
    assert reg is not None and reg["stuck_sessions"] == 1


def test_deletion_fallback_and_undo(ledger: Ledger, models: ReadModels, ctx: Context) -> None:
    rid = _register(ledger, ctx)
    old = ledger.start_session(ctx, rid, sync_type="periodic").session_id
    ledger.record_batch(ctx, rid, old, [["A", "1", "d1"], ["A", "2", "d2"]])
    ledger.complete_session(ctx, rid, old)
    new = ledger.start_session(ctx, rid, sync_type="periodic").session_id
    ledger.record_batch(ctx, rid, new, [["A", "1", "n1"], ["A", "3", "n3"]])
    models.run_once()
    current = {r["key"]: (r["digest"], r["session_id"]) for r in models.receipts(rid).items}
    assert current == {"1": ("n1", new), "2": ("d2", old), "3": ("n3", new)}
    records = models.session_records(rid, old, limit=10, cursor=None).items
    assert {r["key"]: r["receipt_current"] for r in records} == {"1": False, "2": True}

    deleted = ledger.delete_session(ctx, rid, new, reason="stuck", override=True, ticket="T-9")
    models.run_once()
    current = {r["key"]: (r["digest"], r["session_id"]) for r in models.receipts(rid).items}
    assert current == {"1": ("d1", old), "2": ("d2", old)}
    assert (
        models.list_sessions(rid, include_deleted=False, limit=10, cursor=None).items[0]["id"]
        == old
    )
    gone = models.get_session(rid, new)
    assert gone is not None and gone["deleted"] is not None
    assert gone["deleted"]["by"] == "alice" and gone["deleted"]["ticket"] == "T-9"
    assert gone["deleted"]["override"] is True and gone["deleted"]["reason"] == "stuck"
    entry = models.audit_entry(gone["deleted"]["position"])
    assert entry is not None
    assert entry["type"] == "session_deleted" and entry["unsynced"] == 2
    assert entry["registration_id"] == str(rid) and entry["session_id"] == new

    # A newer session supersedes key 3 before the undo: it is skipped.
    newest = ledger.start_session(ctx, rid, sync_type="custom").session_id
    ledger.record_batch(ctx, rid, newest, [["A", "3", "z3"]])
    undo = ledger.undo(ctx, deleted.position, reason="mistake")
    models.run_once()
    current = {r["key"]: (r["digest"], r["session_id"]) for r in models.receipts(rid).items}
    assert current == {"1": ("n1", new), "2": ("d2", old), "3": ("z3", newest)}
    back = models.get_session(rid, new)
    assert back is not None and back["deleted"] is None
    assert back["restored"] is not None and back["restored"]["reason"] == "mistake"
    entry = models.audit_entry(gone["deleted"]["position"])
    assert entry is not None and entry["undone_by"] == undo.position
    undo_entry = models.audit_entry(undo.position)
    assert undo_entry is not None and undo_entry["type"] == "deletion_undone"
    assert (undo_entry["receipts_restored"], undo_entry["receipts_skipped"]) == (1, 1)
    assert models.count_receipts(rid) == 3


def test_reset_and_undo(ledger: Ledger, models: ReadModels, ctx: Context) -> None:
    rid = _register(ledger, ctx)
    sid = ledger.start_session(ctx, rid, sync_type="periodic").session_id
    ledger.record_batch(ctx, rid, sid, [["A", str(i), "d"] for i in range(5)])
    reset = ledger.reset_registration(ctx, rid, reason="re-sync", confirm_file_id="acme.qbw")
    models.run_once()
    assert models.count_receipts(rid) == 0
    assert models.list_sessions(rid, include_deleted=False, limit=10, cursor=None).items == []
    all_sessions = models.list_sessions(rid, include_deleted=True, limit=10, cursor=None).items
    assert all_sessions[0]["removed_by_reset"]["reason"] == "re-sync"
    entry = models.audit_entry(reset.position)
    assert entry is not None and entry["type"] == "registration_reset"
    assert entry["unsynced"] == 5
    undo = ledger.undo(ctx, reset.position, reason="wrong file")
    models.run_once()
    assert models.count_receipts(rid) == 5
    undo_entry = models.audit_entry(undo.position)
    assert undo_entry is not None and undo_entry["type"] == "reset_undone"
    assert undo_entry["receipts_restored"] == 5
    assert (
        models.audit(registration_id=rid, after=None, limit=10, cursor=None).items[0]["undone_by"]
        == undo.position
    )
    # Undo the undo: the reset is back in force.
    again = ledger.undo(ctx, undo.position, reason="it was right")
    models.run_once()
    assert models.count_receipts(rid) == 0
    again_entry = models.audit_entry(again.position)
    assert again_entry is not None and again_entry["undo_of"] == undo.position


def test_sync_requests_and_diff(ledger: Ledger, models: ReadModels, ctx: Context) -> None:
    rid = _register(ledger, ctx)
    req = ledger.request_sync(ctx, rid, kind="full", confirm=True)
    models.run_once()
    pending = models.sync_requests(rid, status="pending", limit=10, cursor=None).items
    assert [(r["id"], r["kind"], r["requested_by"]) for r in pending] == [
        (req.request_id, "full", "alice")
    ]
    sid = ledger.start_session(ctx, rid, sync_type="full", request_id=req.request_id).session_id
    ledger.record_batch(ctx, rid, sid, [["A", str(i), f"d{i}"] for i in range(100)])
    models.run_once()
    done = models.sync_requests(rid, status="fulfilled", limit=10, cursor=None).items
    assert done[0]["fulfilled_by_session"] == sid and done[0]["fulfilled_at"] is not None
    records = [("A", str(i), "d0" if i == 1 else f"d{i}") for i in range(98)]
    records += [("A", "x", "q"), ("B", "1", "q")]
    result = models.diff(rid, records)
    assert result["changed"] == [{"entity_type": "A", "key": "1"}]
    assert result["missing"] == [{"entity_type": "A", "key": "x"}, {"entity_type": "B", "key": "1"}]
    assert result["unchanged"] == 97
    page = models.receipts(rid, entity_type="A", key=None, limit=60, cursor=None)
    rest = models.receipts(rid, entity_type="A", key=None, limit=60, cursor=page.next_cursor)
    assert len(page.items) + len(rest.items) == 100 and rest.next_cursor is None


def test_registration_list_and_health(ledger: Ledger, models: ReadModels, ctx: Context) -> None:
    first = _register(ledger, ctx, "a.qbw")
    second = _register(ledger, ctx, "b.qbw")
    ledger.start_session(ctx, first, sync_type="time")
    models.run_once()
    items = models.list_registrations(product=None, file_id=None, limit=1, cursor=None)
    assert items.items[0]["id"] == str(first)
    more = models.list_registrations(product=None, file_id=None, limit=1, cursor=items.next_cursor)
    assert more.items[0]["id"] == str(second)
    only = models.list_registrations(product="accountlink", file_id="b.qbw", limit=10, cursor=None)
    assert [r["id"] for r in only.items] == [str(second)]
    head = ledger.current_position()
    assert models.position() == head
    assert all(v == {"position": head, "lag": 0} for v in models.health().values())
