"""Finding 1 (issue 10) through HTTP: sync types `_type_` / `_data_` never break the log.

On the old code a reset + undo of a registration that ran both types made
`GET …/events` answer 500, and after a restart the registration could not be written.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.app import create_app
from domain.infra.database import Database
from tests.api.conftest import Api

HOSTILE = ("_type_", "_data_")


def _sessions(api: Api, rid: str, rounds: int = 1) -> None:
    for sync_type in HOSTILE * rounds:
        sid = api.start(rid, sync_type=sync_type)["id"]
        api.records(rid, sid, [("Client List", f"k{sync_type}", "d")], batch_id=sync_type)
        api.complete(rid, sid)


def test_events_after_reset_and_undo_with_marker_sync_types(api: Api, database: Database) -> None:
    rid = api.register(file_id="f")["id"]
    _sessions(api, rid)
    reset = api.post(
        f"/v1/registrations/{rid}/reset",
        role="support",
        json={"reason": "start over", "confirm_file_id": "f"},
    )
    assert reset.status_code == 200, reset.text
    undo = api.post(
        f"/v1/audit/{reset.json()['position']}/undo", role="support", json={"reason": "oops"}
    )
    assert undo.status_code == 200, undo.text
    events = api.get(f"/v1/registrations/{rid}/events", role="auditor", params={"limit": 500})
    assert events.status_code == 200, events.text
    undone = [e for e in events.json()["items"] if e["type"] == "Registration.ResetUndone"]
    assert len(undone) == 1
    assert sorted(undone[0]["data"]["restored_recent"]) == sorted(HOSTILE)

    _restart_and_write(database, rid, api.tokens)


def test_snapshot_with_marker_sync_types_then_restart(api: Api, database: Database) -> None:
    rid = api.register(file_id="f")["id"]
    _sessions(api, rid, rounds=26)  # > 50 registration events: a snapshot is taken
    events = api.get(f"/v1/registrations/{rid}/events", role="auditor", params={"limit": 500})
    assert events.status_code == 200, events.text
    _restart_and_write(database, rid, api.tokens)


def _restart_and_write(database: Database, rid: str, tokens: dict[str, str]) -> None:
    """A restarted server (nothing cached, the registration read from the log or its
    snapshot) still writes to this registration and lists its events."""
    app = create_app(database)
    with TestClient(app) as client:
        again = Api(client, tokens)
        _sessions(again, rid)
        listed = again.get(f"/v1/registrations/{rid}/events", role="auditor")
        assert listed.status_code == 200, listed.text
