"""The real `syncledger serve` process, walked through the Accountlink stuck-session procedure."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

BIN = Path(sys.executable).parent / "syncledger"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN), *args], env=env, capture_output=True, text=True, timeout=60)


def wait_serving(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Until `syncledger serve` at `url` answers its health check (fails if it exits)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/v1/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, "syncledger serve did not start"
        time.sleep(0.2)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    env = {**os.environ, "SYNCLEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}"}
    tokens = {}
    for name, role in (("accountlink-agent", "worker"), ("jx-admin", "support")):
        done = cli(env, "tokens", "create", name, "--role", role)
        assert done.returncode == 0, done.stderr
        tokens[role] = done.stdout.strip().splitlines()[-1]
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_serving(url, proc)
        yield url, tokens
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_stuck_session_procedure_over_http(server: tuple[str, dict[str, str]]) -> None:
    url, tokens = server
    agent = httpx.Client(
        base_url=url, timeout=30, headers={"Authorization": f"Bearer {tokens['worker']}"}
    )
    admin = httpx.Client(
        base_url=url, timeout=30, headers={"Authorization": f"Bearer {tokens['support']}"}
    )

    def ok(r: httpx.Response, status: int = 200) -> Any:
        assert r.status_code == status, r.text
        return r.json()

    # The connector registers its file and syncs; one session dies mid-way.
    reg = ok(
        agent.post(
            "/v1/registrations",
            json={"product": "accountlink-quickbooks", "file_id": r"C:\Books\acme.qbw"},
        ),
        201,
    )
    rid = reg["id"]
    base = f"/v1/registrations/{rid}/sessions"
    first = ok(agent.post(base, json={"sync_type": "time", "worker": "ACME-PC01"}), 201)
    ok(
        agent.post(
            f"{base}/{first['id']}/records",
            json={
                "records": [
                    {"entity_type": "Timesheet", "key": f"T-{i}", "digest": "d"} for i in range(10)
                ]
            },
        )
    )
    ok(agent.post(f"{base}/{first['id']}/complete", json={}))
    stuck = ok(agent.post(base, json={"sync_type": "time", "worker": "ACME-PC01"}), 201)
    blocked = agent.post(base, json={"sync_type": "time"})
    assert blocked.status_code == 409
    assert blocked.json()["error"]["details"]["blocking_session_id"] == stuck["id"]
    # The connector's own login cannot delete (step 1).
    r = agent.post(f"{base}/{stuck['id']}/delete", json={"reason": "stuck"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"

    # Steps 2-3: list the registrations, pick the most recently updated one.
    listed = ok(admin.get("/v1/registrations", params={"min_position": stuck["position"]}))
    assert listed["items"][0]["id"] == rid and listed["items"][0]["total_syncs"] == 2
    # Steps 4-5: the session history; the stuck one is in progress, empty and most recent.
    history = ok(admin.get(base, params={"min_position": stuck["position"]}))
    assert history["items"][0]["id"] == stuck["id"]
    detail = ok(admin.get(f"{base}/{stuck['id']}"))
    assert detail["status"] == "in_progress" and detail["records_synced"] == 0
    assert detail["deletion_check"] == {"safe": True, "failed_checks": []}
    # Step 6: delete it (a dry run first), then the agent syncs again.
    dry = ok(admin.post(f"{base}/{stuck['id']}/delete", json={"reason": "stuck", "dry_run": True}))
    assert dry["deleted"] is False and dry["would_unsync"] == 0
    deleted = ok(
        admin.post(f"{base}/{stuck['id']}/delete", json={"reason": "stuck session, KB step 6"})
    )
    assert deleted == {"deleted": True, "unsynced": 0, "position": deleted["position"]}
    again = ok(agent.post(base, json={"sync_type": "time", "worker": "ACME-PC01"}), 201)
    ok(agent.post(f"{base}/{again['id']}/complete", json={}))

    # A mistaken override deletion of a session with records, then its undo.
    refused = admin.post(f"{base}/{first['id']}/delete", json={"reason": "oops"})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "unsafe_deletion"
    mistake = ok(
        admin.post(
            f"{base}/{first['id']}/delete",
            json={"reason": "oops", "override": True, "ticket": "JX-1234"},
        )
    )
    assert mistake["unsynced"] == 10
    receipts = ok(
        admin.get(f"/v1/registrations/{rid}/receipts", params={"min_position": mistake["position"]})
    )
    assert receipts["items"] == []
    audit = ok(
        admin.get("/v1/audit", params={"registration_id": rid, "min_position": mistake["position"]})
    )
    entry = next(e for e in audit["items"] if e["session_id"] == first["id"])
    undone = ok(
        admin.post(
            f"/v1/audit/{entry['position']}/undo", json={"reason": "deleted the wrong session"}
        )
    )
    assert undone["receipts_restored"] == 10
    receipts = ok(
        admin.get(f"/v1/registrations/{rid}/receipts", params={"min_position": undone["position"]})
    )
    assert len(receipts["items"]) == 10


@pytest.mark.parametrize("log_json", [False, True])
def test_each_request_is_logged_once(tmp_path: Path, log_json: bool) -> None:
    """uvicorn's access line by default; with SYNCLEDGER_LOG_JSON only the JSON line (both
    were written for every request before)."""
    env = {
        **os.environ,
        "SYNCLEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'log.db'}",
        "SYNCLEDGER_LOG_JSON": "true" if log_json else "false",
    }
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    try:
        wait_serving(f"http://127.0.0.1:{port}", proc)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=15)
    text = out.decode() + err.decode()
    access_lines = [x for x in text.splitlines() if '"GET /v1/health HTTP/1.1" 200' in x]
    json_lines = [x for x in text.splitlines() if x.startswith("{") and '"/v1/health"' in x]
    if log_json:
        assert json_lines and not access_lines, text[-2000:]
    else:
        assert access_lines and not json_lines, text[-2000:]
