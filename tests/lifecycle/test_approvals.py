"""Four-eyes approvals (rule 17) on both backends, with a movable clock.

Guards: an override deletion or a reset with approvals_required answers 202 and changes
nothing; the requester cannot approve (403 own_approval); a different support token's
approval carries the action out with both names on the events and stays undoable; a
rejection changes nothing; a pending approval expires after 24 hours (recorded once by the
background task); a decided approval cannot be decided again (409 approval_not_pending).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from domain.infra.database import Database
from tests.lifecycle.kit import Clock, Driven, receiver


@pytest.fixture
def driven(database: Database) -> Iterator[Driven]:
    d = Driven(database, Clock())
    yield d
    d.close()


def guarded(d: Driven) -> tuple[str, str]:
    """A registration with approvals_required and a session that is unsafe to delete."""
    rid = d.register()
    r = d.patch(f"/v1/registrations/{rid}", json={"approvals_required": True})
    assert r.status_code == 200, r.text
    sid = d.start(rid)
    r = d.post(
        f"/v1/registrations/{rid}/sessions/{sid}/records",
        role="worker",
        json={"records": [{"entity_type": "Client List", "key": "1", "digest": "a"}]},
    )
    assert r.status_code == 200
    return rid, sid


def ask_delete(d: Driven, rid: str, sid: str) -> dict[str, Any]:
    r = d.post(
        f"/v1/registrations/{rid}/sessions/{sid}/delete",
        json={"reason": "agent died mid-sync", "override": True, "ticket": "SUP-7"},
    )
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "pending" and body["approval_id"]
    return dict(body)


def event_types(d: Driven, rid: str) -> list[str]:
    r = d.get(f"/v1/registrations/{rid}/events", params={"limit": 1000})
    return [e["type"] for e in r.json()["items"]]


def test_override_deletion_waits_own_approval_refused_other_approves(driven: Driven) -> None:
    rid, sid = guarded(driven)
    with receiver() as rx:
        hook = driven.post(
            "/v1/webhooks", json={"url": rx.url, "events": ["approval.requested"]}
        ).json()
        pending = ask_delete(driven, rid, sid)
        driven.tick()
        assert [orjson.loads(m.body)["data"]["approval_id"] for m in rx.received] == [
            pending["approval_id"]
        ]
        assert hook["id"]
    driven.settle()
    assert driven.get(f"/v1/registrations/{rid}/sessions/{sid}").json()["deleted"] is None
    listed = driven.get("/v1/approvals", role="auditor", params={"status": "pending"}).json()
    item = listed["items"][0]
    assert (item["id"], item["action"], item["requested_by"]) == (
        pending["approval_id"],
        "delete",
        "jx-admin",
    )
    assert item["session_id"] == sid and item["ticket"] == "SUP-7"

    aid = pending["approval_id"]
    r = driven.post(f"/v1/approvals/{aid}/approve", json={})
    assert r.status_code == 403 and r.json()["error"]["code"] == "own_approval"
    r = driven.post(f"/v1/approvals/{aid}/approve", role="worker", json={})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"

    r = driven.post(f"/v1/approvals/{aid}/approve", role="support2", json={"reason": "ok"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "approved" and body["decided_by"] == "second-admin"
    assert body["result"]["deleted"] is True and body["result"]["unsynced"] == 1
    deleted = driven.get(f"/v1/registrations/{rid}/sessions/{sid}").json()["deleted"]
    assert deleted["by"] == "second-admin" and deleted["override"] is True
    assert (
        "requested by jx-admin" in deleted["reason"]
        and "approved by second-admin" in (deleted["reason"])
    )
    # The approval's own events live on the approval aggregate: read them from the audit log.
    audit = driven.get("/v1/audit", params={"registration_id": rid}).json()["items"]
    steps = {a["type"]: a for a in audit}
    assert steps["approval_requested"]["actor"] == "jx-admin"
    assert steps["approval_approved"]["actor"] == "second-admin"
    assert steps["session_deleted"]["actor"] == "second-admin"

    r = driven.post(f"/v1/approvals/{aid}/reject", role="support2", json={})
    assert r.status_code == 409 and r.json()["error"]["code"] == "approval_not_pending"

    undo = driven.post(
        f"/v1/audit/{steps['session_deleted']['position']}/undo", json={"reason": "oops"}
    )
    assert undo.status_code == 200, undo.text


def test_reset_waits_and_rejection_changes_nothing(driven: Driven) -> None:
    rid, sid = guarded(driven)
    r = driven.post(f"/v1/registrations/{rid}/reset", json={"reason": "x", "confirm_file_id": "no"})
    assert r.status_code == 422  # the confirmation is still checked first
    before = event_types(driven, rid)
    r = driven.post(
        f"/v1/registrations/{rid}/reset",
        json={"reason": "start over", "confirm_file_id": "acme.qbw"},
    )
    assert r.status_code == 202, r.text
    aid = r.json()["approval_id"]
    r = driven.post(f"/v1/approvals/{aid}/reject", role="support2", json={"reason": "not yet"})
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    assert r.json()["decision_reason"] == "not yet"
    assert event_types(driven, rid) == before  # nothing happened to the registration
    driven.settle()
    sessions = driven.get(f"/v1/registrations/{rid}/sessions").json()["items"]
    assert [s["id"] for s in sessions] == [sid]
    r = driven.post(f"/v1/approvals/{aid}/approve", role="support2", json={})
    assert r.status_code == 409 and r.json()["error"]["code"] == "approval_not_pending"


def test_approved_reset_is_carried_out(driven: Driven) -> None:
    rid, sid = guarded(driven)
    r = driven.post(
        f"/v1/registrations/{rid}/reset",
        json={"reason": "start over", "confirm_file_id": "acme.qbw"},
    )
    aid = r.json()["approval_id"]
    r = driven.post(f"/v1/approvals/{aid}/approve", role="support2", json={})
    assert r.status_code == 200, r.text
    assert r.json()["result"]["sessions_up_to_seq"] == 1
    assert "Registration.RegistrationReset" in event_types(driven, rid)
    driven.settle()
    assert driven.get(f"/v1/registrations/{rid}/sessions").json()["items"] == []


def test_pending_approvals_expire_after_24_hours(driven: Driven) -> None:
    rid, sid = guarded(driven)
    aid = ask_delete(driven, rid, sid)["approval_id"]
    driven.clock.advance(hours=23)
    assert driven.tick()["approval_expiry"] == 0
    driven.clock.advance(hours=1, minutes=1)
    assert driven.tick()["approval_expiry"] == 1
    assert driven.tick()["approval_expiry"] == 0
    item = driven.get("/v1/approvals", params={"status": "expired"}).json()["items"][0]
    assert item["id"] == aid and item["decided_by"] == "syncledger"
    r = driven.post(f"/v1/approvals/{aid}/approve", role="support2", json={})
    assert r.status_code == 409 and r.json()["error"]["code"] == "approval_not_pending"
    assert driven.get(f"/v1/registrations/{rid}/sessions/{sid}").json()["deleted"] is None


def test_expired_but_not_yet_recorded_cannot_be_approved(driven: Driven) -> None:
    rid, sid = guarded(driven)
    aid = ask_delete(driven, rid, sid)["approval_id"]
    driven.clock.advance(hours=25)  # the background task has not run yet
    r = driven.post(f"/v1/approvals/{aid}/approve", role="support2", json={})
    assert r.status_code == 409 and r.json()["error"]["details"]["status"] == "expired"


def test_without_approvals_required_nothing_changes(driven: Driven) -> None:
    rid = driven.register()
    sid = driven.start(rid)
    r = driven.post(
        f"/v1/registrations/{rid}/sessions/{sid}/delete",
        json={"reason": "x", "override": True, "ticket": "T-1"},
    )
    assert r.status_code == 200 and r.json()["deleted"] is True
    assert driven.get("/v1/approvals").json()["items"] == []
    missing = "00000000-0000-0000-0000-000000000000"
    r = driven.post(f"/v1/approvals/{missing}/approve", role="support2", json={})
    assert r.status_code == 404
