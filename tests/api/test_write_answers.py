"""Small writes answer from the command's own state, never waiting for the read models
(issue 16); a read that passes the write's position still reads the write."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from domain.infra.database import Database
from tests.api.conftest import ROLES, Api


class NoWaiting:
    """Stands in for `ReadModels.wait_for` while the views are stopped: records each call."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, position: int, timeout: float) -> bool:
        self.calls.append(position)
        return False


@pytest.fixture
def stopped(database: Database) -> Iterator[tuple[Api, Any, NoWaiting]]:
    """The app with its views stopped: a write that waited for them would be seen waiting."""
    app = create_app(database, start_background=False)
    services = app.state.services
    tokens = {role: services.tokens.create(f"{role}-token", role) for role in ROLES}
    waits = NoWaiting()
    services.read_models.wait_for = waits
    with TestClient(app) as client:
        yield Api(client, tokens), services, waits


def test_small_writes_answer_without_waiting_for_the_views(
    stopped: tuple[Api, Any, NoWaiting],
) -> None:
    api, services, waits = stopped
    reg = api.post("/v1/registrations", json={"product": "p", "file_id": "f.qbw", "name": "F"})
    assert reg.status_code == 201, reg.text
    body = reg.json()
    rid = body["id"]
    assert (body["product"], body["file_id"], body["name"]) == ("p", "f.qbw", "F")
    assert (body["total_syncs"], body["receipts"], body["sessions_in_progress"]) == (0, 0, 0)
    assert body["created_at"] == body["last_updated"] and body["position"] >= 1
    assert body["approvals_required"] is False

    started = api.start(rid, "time", worker="SRV-01", entity_types=["Timesheet"])
    sid = started["id"]
    assert started["status"] == "in_progress" and started["stuck"] is False
    assert started["registration_id"] == rid and started["worker"] == "SRV-01"
    assert started["entity_types"] == ["Timesheet"] and started["seq"] == 1
    assert started["deletion_check"] == {"safe": True, "failed_checks": []}
    assert started["position"] > body["position"]

    base = f"/v1/registrations/{rid}/sessions/{sid}"
    api.records(rid, sid, [("Timesheet", "T-1", "d1")])
    assert api.post(f"{base}/errors", json={"message": "late"}).status_code == 201
    done = api.complete(rid, sid)
    assert done["status"] == "completed" and done["ended_at"]
    assert (done["records_synced"], done["error_count"]) == (1, 1)
    assert done["deletion_check"] == {
        "safe": False,
        "failed_checks": ["has_records", "not_in_progress"],
    }

    other = api.start(rid, "custom")
    failed = api.post(f"/v1/registrations/{rid}/sessions/{other['id']}/fail", json={"reason": "x"})
    assert failed.status_code == 200 and failed.json()["fail_reason"] == "x"
    stuck = api.start(rid, "full")
    deleted = api.post(
        f"/v1/registrations/{rid}/sessions/{stuck['id']}/delete",
        role="support",
        json={"reason": "stuck"},
    )
    assert deleted.status_code == 200 and deleted.json()["unsynced"] == 0
    assert waits.calls == []  # not one write waited for the views

    # Read-your-writes: with the views running, a read passing the last position sees it all.
    del services.read_models.wait_for
    services.read_models.start()
    try:
        last = deleted.json()["position"]
        one = api.read(f"/v1/registrations/{rid}/sessions/{sid}", last)
        assert one["status"] == "completed" and one["errors"][0]["message"] == "late"
        assert one["deletion_check"] == done["deletion_check"]
        listed = api.read(f"/v1/registrations/{rid}/sessions", last, include_deleted=True)
        assert {s["id"] for s in listed["items"]} == {sid, other["id"], stuck["id"]}
        assert api.read(f"/v1/registrations/{rid}", last)["total_syncs"] == 2
    finally:
        services.read_models.stop()


def test_a_write_answers_as_the_session_read_does(api: Api) -> None:
    """The answer built from the aggregate says what the read models say once caught up."""
    rid = api.register()["id"]
    sid = api.start(rid, "time", worker="SRV-02")["id"]
    api.records(rid, sid, [("T", "k", "d")])
    done = api.complete(rid, sid)
    read = api.read(f"/v1/registrations/{rid}/sessions/{sid}", done["position"])
    same = ("id", "registration_id", "seq", "sync_type", "status", "started_at", "ended_at")
    more = ("records_synced", "error_count", "worker", "stuck", "last_activity_at")
    for field in (*same, *more, "fail_reason", "request_id", "deletion_check"):
        assert done[field] == read[field], field
