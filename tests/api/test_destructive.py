"""Delete (dry run, unsafe, override), reset, undo, audit, events."""

from __future__ import annotations

import uuid

from tests.api.conftest import Api, assert_error


def test_delete_stuck_session_and_undo(api: Api) -> None:
    rid = api.register()["id"]
    base = f"/v1/registrations/{rid}/sessions"
    done = api.start(rid)["id"]
    api.records(rid, done, [("Timesheet", "T-1", "a"), ("Timesheet", "T-2", "b")])
    api.complete(rid, done)
    stuck = api.start(rid)
    sid = stuck["id"]
    check = api.read(f"{base}/{sid}", stuck["position"])["deletion_check"]
    assert check == {"safe": True, "failed_checks": []}
    dry = api.post(
        f"{base}/{sid}/delete", role="support", json={"reason": "stuck", "dry_run": True}
    )
    assert dry.status_code == 200, dry.text
    assert dry.json()["deleted"] is False and dry.json()["would_unsync"] == 0
    assert dry.json()["deletion_check"]["safe"] is True
    r = api.post(f"{base}/{sid}/delete", role="support", json={"reason": "stuck, KB step 6"})
    assert r.status_code == 200, r.text
    deleted = r.json()
    assert deleted["deleted"] is True and deleted["unsynced"] == 0
    assert_error(
        api.post(f"{base}/{sid}/delete", role="support", json={"reason": "again"}),
        409,
        "already_deleted",
    )
    listed = api.read(base, deleted["position"])
    assert [s["id"] for s in listed["items"]] == [done]
    everything = api.read(base, deleted["position"], include_deleted="true")
    marked = next(s for s in everything["items"] if s["id"] == sid)
    assert marked["deleted"]["by"] == "support-token"
    assert marked["deleted"]["reason"] == "stuck, KB step 6"
    # the time sync is unblocked
    assert api.start(rid)["status"] == "in_progress"

    audit = api.read("/v1/audit", deleted["position"], role="auditor", registration_id=rid)
    entry = audit["items"][0]
    assert entry["type"] == "session_deleted" and entry["session_id"] == sid
    assert entry["actor"] == "support-token"
    assert entry["position"] == deleted["position"] - 1
    assert_error(
        api.get("/v1/audit", role="auditor", params={"registration_id": "x"}),
        422,
        "validation_error",
    )


def test_unsafe_deletion_override_and_undo(api: Api) -> None:
    rid = api.register()["id"]
    base = f"/v1/registrations/{rid}/sessions"
    old = api.start(rid)["id"]
    api.records(rid, old, [("Client List", "C-1", "v1"), ("Client List", "C-2", "v1")])
    api.complete(rid, old)
    new = api.start(rid)["id"]
    api.records(rid, new, [("Client List", "C-1", "v2"), ("Client List", "C-3", "v1")])
    last = api.complete(rid, new)
    error = assert_error(
        api.post(f"{base}/{new}/delete", role="support", json={"reason": "mistake"}),
        409,
        "unsafe_deletion",
    )
    assert error["details"]["failed_checks"] == ["has_records", "not_in_progress"]
    error = assert_error(
        api.post(
            f"{base}/{new}/delete", role="support", json={"reason": "mistake", "override": True}
        ),
        422,
        "validation_error",
    )
    assert error["details"]["field"] == "ticket"
    assert_error(api.post(f"{base}/{new}/delete", role="support", json={}), 422, "validation_error")
    dry = api.post(
        f"{base}/{new}/delete", role="support", json={"reason": "x", "dry_run": True}
    ).json()
    assert dry["would_unsync"] == 2 and len(dry["records"]) == 2
    assert dry["deletion_check"]["safe"] is False
    receipts = api.read(f"/v1/registrations/{rid}/receipts", last["position"])
    assert {(r["key"], r["digest"]) for r in receipts["items"]} == {
        ("C-1", "v2"),
        ("C-2", "v1"),
        ("C-3", "v1"),
    }
    r = api.post(
        f"{base}/{new}/delete",
        role="support",
        json={"reason": "Support instruction", "override": True, "ticket": "SUP-1"},
    )
    assert r.status_code == 200, r.text
    deleted = r.json()
    assert deleted["unsynced"] == 2
    receipts = api.read(f"/v1/registrations/{rid}/receipts", deleted["position"])
    assert {(r["key"], r["digest"], r["session_id"]) for r in receipts["items"]} == {
        ("C-1", "v1", old),
        ("C-2", "v1", old),
    }
    # undo the mistaken override deletion
    r = api.post(
        f"/v1/audit/{deleted['position'] - 1}/undo",
        role="support",
        json={"reason": "deleted the wrong session"},
    )
    assert r.status_code == 200, r.text
    undone = r.json()
    assert undone["undone"] == deleted["position"] - 1
    assert undone["receipts_restored"] == 2 and undone["receipts_skipped"] == 0
    receipts = api.read(f"/v1/registrations/{rid}/receipts", undone["position"])
    assert {(r["key"], r["digest"]) for r in receipts["items"]} == {
        ("C-1", "v2"),
        ("C-2", "v1"),
        ("C-3", "v1"),
    }
    assert_error(
        api.post(
            f"/v1/audit/{deleted['position'] - 1}/undo", role="support", json={"reason": "again"}
        ),
        409,
        "not_undoable",
    )
    assert_error(
        api.post("/v1/audit/1/undo", role="support", json={"reason": "x"}), 409, "not_undoable"
    )
    assert_error(
        api.post("/v1/audit/0/undo", role="support", json={"reason": "x"}), 422, "validation_error"
    )
    assert_error(
        api.post("/v1/audit/999999/undo", role="support", json={"reason": "x"}), 404, "not_found"
    )
    audit = api.read("/v1/audit", undone["position"], role="support")
    types = [e["type"] for e in audit["items"]]
    assert "session_deleted" in types and "deletion_undone" in types


def test_reset_and_undo(api: Api) -> None:
    reg = api.register(file_id="acme.qbw")
    rid = reg["id"]
    sid = api.start(rid)["id"]
    api.records(rid, sid, [("Timesheet", f"T-{i}", "d") for i in range(3)])
    api.complete(rid, sid)
    assert_error(
        api.post(
            f"/v1/registrations/{rid}/reset",
            role="support",
            json={"reason": "start over", "confirm_file_id": "other.qbw"},
        ),
        422,
        "validation_error",
    )
    assert_error(
        api.post(
            f"/v1/registrations/{uuid.uuid4()}/reset",
            role="support",
            json={"reason": "x", "confirm_file_id": "acme.qbw"},
        ),
        404,
        "not_found",
    )
    r = api.post(
        f"/v1/registrations/{rid}/reset",
        role="support",
        json={"reason": "start over", "confirm_file_id": "acme.qbw"},
    )
    assert r.status_code == 200, r.text
    reset = r.json()
    assert reset["unsynced"] == 3
    assert api.read(f"/v1/registrations/{rid}/receipts", reset["position"])["items"] == []
    assert api.read(f"/v1/registrations/{rid}/sessions", reset["position"])["items"] == []
    r = api.post(
        f"/v1/audit/{reset['position']}/undo", role="support", json={"reason": "wrong file"}
    )  # the compensating event's position works too
    assert r.status_code == 200, r.text
    undone = r.json()
    assert undone["undone"] == reset["position"] - 1
    assert undone["receipts_restored"] == 3
    receipts = api.read(f"/v1/registrations/{rid}/receipts", undone["position"])
    assert len(receipts["items"]) == 3
    events = api.get(f"/v1/registrations/{rid}/events", role="auditor").json()
    types = [e["type"] for e in events["items"]]
    assert "Registration.RegistrationReset" in types and "Registration.ResetUndone" in types
    assert "Session.RecordsSynced" in types
    first = events["items"][0]
    assert set(first) >= {
        "position",
        "version",
        "type",
        "timestamp",
        "actor",
        "correlation_id",
        "data",
    }
    assert first["data"]["file_id"] == "acme.qbw"
    page = api.get(f"/v1/registrations/{rid}/events", role="support", params={"limit": 2}).json()
    assert len(page["items"]) == 2
    after = api.get(
        f"/v1/registrations/{rid}/events",
        role="support",
        params={"after": page["items"][-1]["position"], "limit": 1000},
    ).json()
    positions = [e["position"] for e in page["items"] + after["items"]]
    assert positions == sorted(positions) == [e["position"] for e in events["items"]]
