"""Heartbeats, the stuck flag, worker status (rules 10, 15) and self-healing (rule 16),
with a movable clock on both backends (no sleeping)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from domain.infra.database import Database
from tests.lifecycle.kit import Clock, Driven


@pytest.fixture
def driven(database: Database) -> Iterator[Driven]:
    d = Driven(database, Clock())
    yield d
    d.close()


def events(d: Driven, rid: str, kind: str) -> list[dict[str, Any]]:
    r = d.get(f"/v1/registrations/{rid}/events", params={"limit": 1000})
    assert r.status_code == 200, r.text
    return [e for e in r.json()["items"] if e["type"].endswith(kind)]


def session(d: Driven, rid: str, sid: str) -> dict[str, Any]:
    d.settle()
    r = d.get(f"/v1/registrations/{rid}/sessions/{sid}")
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_heartbeat_renews_and_is_refused_once_ended(driven: Driven) -> None:
    rid = driven.register()
    sid = driven.start(rid)
    before = session(driven, rid, sid)["last_activity_at"]
    r = driven.post(f"/v1/registrations/{rid}/sessions/{sid}/heartbeat", role="worker", json={})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["position"] > 0 and body["last_activity_at"] > before
    assert session(driven, rid, sid)["last_activity_at"] == body["last_activity_at"]
    hb = events(driven, rid, "Session.Heartbeat")
    assert len(hb) == 1 and hb[0]["actor"] == "agent"

    r = driven.post(f"/v1/registrations/{rid}/sessions/{sid}/complete", role="worker", json={})
    assert r.status_code == 200
    r = driven.post(f"/v1/registrations/{rid}/sessions/{sid}/heartbeat", role="worker", json={})
    assert r.status_code == 409 and r.json()["error"]["code"] == "session_not_in_progress"
    assert len(events(driven, rid, "Session.Heartbeat")) == 1  # refused: nothing recorded
    r = driven.post(f"/v1/registrations/{rid}/sessions/{sid}/heartbeat", role="auditor", json={})
    assert r.status_code == 403


def test_flagged_once_per_stuck_spell_and_status_says_stuck(driven: Driven) -> None:
    rid = driven.register()
    sid = driven.start(rid)
    driven.tick()
    assert events(driven, rid, "FlaggedStuck") == []
    status = driven.get(f"/v1/registrations/{rid}").json()["status"]
    assert status["state"] == "in_progress"

    driven.clock.advance(minutes=121)
    assert driven.tick()["stuck"] == 1
    assert driven.tick()["stuck"] == 0  # same spell: once
    flags = events(driven, rid, "Session.FlaggedStuck")
    assert len(flags) == 1 and flags[0]["actor"] == "syncledger"
    listed = driven.get(f"/v1/registrations/{rid}/sessions").json()["items"][0]
    assert listed["stuck"] is True
    reg = driven.get(f"/v1/registrations/{rid}").json()
    assert reg["stuck_sessions"] == 1
    status = reg["status"]
    assert status["state"] == "stuck" and status["worker"] == "SRV-01"
    assert "in progress" not in status["message"] and "stuck on SRV-01" in status["message"]
    assert status["since"] == listed["last_activity_at"]

    # A heartbeat ends the spell; a new spell is flagged again.
    r = driven.post(f"/v1/registrations/{rid}/sessions/{sid}/heartbeat", role="worker", json={})
    assert r.status_code == 200
    driven.settle()
    assert driven.get(f"/v1/registrations/{rid}").json()["status"]["state"] == "stuck"
    driven.clock.advance(minutes=-121)  # back to real time: the heartbeat is fresh
    driven.settle()
    assert driven.get(f"/v1/registrations/{rid}").json()["status"]["state"] == "in_progress"
    assert driven.tick()["stuck"] == 0
    driven.clock.advance(minutes=121)
    assert driven.tick()["stuck"] == 1
    assert len(events(driven, rid, "Session.FlaggedStuck")) == 2


def patch(d: Driven, rid: str, role: str = "support", **body: Any) -> Any:
    return d.patch(f"/v1/registrations/{rid}", role=role, json=body)


def test_settings_change_by_support_one_event_and_register_again_changes_nothing(
    driven: Driven,
) -> None:
    rid = driven.register()
    assert patch(driven, rid, role="worker", name="x").status_code == 403
    r = patch(driven, rid, name="Acme books", stuck_after_minutes=60)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["name"] == "Acme books" and body["stuck_after_minutes"] == 60
    assert body["changed"] == ["name", "stuck_after_minutes"]
    changes = events(driven, rid, "Registration.SettingsChanged")
    assert len(changes) == 1 and changes[0]["actor"] == "jx-admin"
    assert changes[0]["data"]["previous"]["stuck_after_minutes"] == 120

    assert patch(driven, rid, name="Acme books").json()["changed"] == []  # no change
    assert len(events(driven, rid, "Registration.SettingsChanged")) == 1

    r = patch(driven, rid, auto_remove_stuck_after_minutes=30)  # below stuck_after
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"
    assert patch(driven, rid, stuck_after_minutes=None).status_code == 422
    r = patch(driven, rid, auto_remove_stuck_after_minutes=90, approvals_required=True)
    assert r.status_code == 200
    assert r.json()["auto_remove_stuck_after_minutes"] == 90
    assert r.json()["approvals_required"] is True

    again = driven.register(name="other", stuck_after_minutes=5)
    assert again == rid
    driven.settle()
    reg = driven.get(f"/v1/registrations/{rid}").json()
    assert (reg["name"], reg["stuck_after_minutes"]) == ("Acme books", 60)
    r = patch(driven, rid, auto_remove_stuck_after_minutes=None)
    assert r.json()["auto_remove_stuck_after_minutes"] is None


def test_self_healing_removes_only_safe_sessions_once(driven: Driven) -> None:
    rid = driven.register()
    assert patch(driven, rid, auto_remove_stuck_after_minutes=180).status_code == 200
    safe = driven.start(rid, "time")
    with_records = driven.start(rid, "periodic")
    r = driven.post(
        f"/v1/registrations/{rid}/sessions/{with_records}/records",
        role="worker",
        json={"records": [{"entity_type": "Client List", "key": "1", "digest": "a"}]},
    )
    assert r.status_code == 200
    other = driven.register("other.qbw")  # not opted in
    driven.start(other, "time")

    driven.clock.advance(minutes=150)  # stuck, not yet due for removal
    assert driven.tick()["self_heal"] == 0
    driven.clock.advance(minutes=31)
    out = driven.tick()
    assert out["self_heal"] == 1
    assert driven.tick()["self_heal"] == 0

    deleted = session(driven, rid, safe)["deleted"]
    assert deleted["by"] == "syncledger" and deleted["override"] is False
    assert "no activity since" in deleted["reason"] and "180 minutes" in deleted["reason"]
    assert session(driven, rid, with_records)["deleted"] is None  # fails has_records
    assert driven.get(f"/v1/registrations/{other}/sessions").json()["items"][0]["deleted"] is None

    audit = driven.get("/v1/audit", params={"registration_id": rid}).json()["items"]
    entry = next(a for a in audit if a["session_id"] == safe)
    assert entry["actor"] == "syncledger"
    r = driven.post(f"/v1/audit/{entry['position']}/undo", json={"reason": "agent came back"})
    assert r.status_code == 200, r.text
    assert session(driven, rid, safe)["deleted"] is None
