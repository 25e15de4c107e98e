"""`serve`'s default: read-model runners and the Merkle tree follower in a child process."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from domain.infra.database import Database
from tests.api.conftest import ROLES, Api


@pytest.fixture
def process_api(database: Database) -> Iterator[tuple[Api, object]]:
    app = create_app(database, runners="process")
    services = app.state.services
    tokens = {role: services.tokens.create(f"{role}-token", role) for role in ROLES}
    with TestClient(app) as client:
        yield Api(client, tokens), app


def _child_pid(app: object) -> int:
    pid = app.state.background.child_pid  # type: ignore[attr-defined]
    assert pid is not None
    return int(pid)


def test_reads_catch_up_through_the_child_process(process_api: tuple[Api, object]) -> None:
    api, _ = process_api
    rid = api.register()["id"]
    sid = api.start(rid)["id"]
    written = api.records(rid, sid, [("Client List", f"C{i}", f"d{i}") for i in range(50)])
    receipts = api.read(f"/v1/registrations/{rid}/receipts", written["position"])
    assert len(receipts["items"]) == 50
    assert receipts["position"] >= written["position"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the tree follower runs in the child and signs
        verify = api.get("/v1/audit/verify", role="auditor").json()
        checkpoint = verify["checkpoint"]
        if checkpoint is not None and checkpoint["tree_size"] >= written["position"]:
            break
        time.sleep(0.1)
    assert verify["ok"] is True, verify
    assert verify["checkpoint"]["tree_size"] >= written["position"]
    assert verify["checkpoint"]["root_matches"] is True


def test_a_killed_runner_process_is_restarted(process_api: tuple[Api, object]) -> None:
    api, app = process_api
    rid = api.register()["id"]
    first = _child_pid(app)
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and _child_pid(app) == first:
        time.sleep(0.2)
    assert _child_pid(app) != first
    sid = api.start(rid)["id"]
    written = api.records(rid, sid, [("Client List", "C1", "d1")])
    receipts = api.read(f"/v1/registrations/{rid}/receipts", written["position"], wait_s=10)
    assert [r["key"] for r in receipts["items"]] == ["C1"]
