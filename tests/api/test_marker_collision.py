"""Finding 1 (issue 10) through HTTP: sync types `_type_` / `_data_` never break the log.

On the old code a reset + undo of a registration that ran both types (or enough of their
sessions for a snapshot) made `GET …/events` answer 500, and after a restart the
registration could not be written. Each server is shut down before the next one starts
(a restart), so the test holds one server's connections at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient

from api.app import create_app
from domain.infra.database import Database
from tests.api.conftest import ROLES, Api

HOSTILE = ("_type_", "_data_")


@contextmanager
def serve(database: Database, tokens: dict[str, str] | None = None) -> Iterator[Api]:
    app = create_app(database)
    if tokens is None:
        tokens = {r: app.state.services.tokens.create(f"{r}-token", r) for r in ROLES}
    with TestClient(app) as client:
        yield Api(client, tokens)


def _sessions(api: Api, rid: str, rounds: int = 1) -> None:
    for sync_type in HOSTILE * rounds:
        sid = api.start(rid, sync_type=sync_type)["id"]
        api.records(rid, sid, [("Client List", f"k{sync_type}", "d")], batch_id=sync_type)
        api.complete(rid, sid)


def _events(api: Api, rid: str) -> list[dict[str, object]]:
    r = api.get(f"/v1/registrations/{rid}/events", role="auditor", params={"limit": 500})
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


def _restart_and_write(database: Database, rid: str, tokens: dict[str, str]) -> None:
    """A restarted server (nothing cached: the registration is read from the log or its
    snapshot) still writes to this registration and lists its events."""
    with serve(database, tokens) as again:
        _sessions(again, rid)
        assert _events(again, rid)


def test_events_after_reset_and_undo_with_marker_sync_types(database: Database) -> None:
    with serve(database) as api:
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
        undone = [e for e in _events(api, rid) if e["type"] == "Registration.ResetUndone"]
        assert len(undone) == 1
        tokens = api.tokens
    _restart_and_write(database, rid, tokens)


def test_snapshot_with_marker_sync_types_then_restart(database: Database) -> None:
    with serve(database) as api:
        rid = api.register(file_id="f")["id"]
        _sessions(api, rid, rounds=26)  # > 50 registration events: a snapshot is taken
        assert _events(api, rid)
        tokens = api.tokens
    _restart_and_write(database, rid, tokens)
