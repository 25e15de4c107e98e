"""Issue 11, finding 5: a database that is down or full answers 503 with Retry-After, fast,
and the service recovers by itself (docs/api.md, "Database faults").

PostgreSQL faults go through a TCP proxy the test cuts (tests/outage_kit.py), never the
shared server; a full disk is SQLite's page limit. The times measured are printed (-s).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from domain.infra.database import Database
from tests.api.conftest import assert_error
from tests.outage_kit import PgProxy, pg_proxy, sqlite_page_cap, sqlite_pages

__all__ = ["pg_proxy"]

RECORDS = "/v1/registrations/{rid}/sessions/{sid}/records"


def assert_unavailable(response: Any, code: str = "database_unavailable") -> None:
    error = assert_error(response, 503, code)
    assert int(response.headers["Retry-After"]) > 0
    assert "retry" in error["message"].lower() or "read" in error["message"].lower()


@pytest.fixture
def served(
    pg_proxy: tuple[PgProxy, Database],
) -> Iterator[tuple[PgProxy, TestClient, dict[str, str]]]:
    proxy, database = pg_proxy
    app = create_app(database)
    tokens = {
        "worker": app.state.services.tokens.create("outage-worker", "worker"),
        "support": app.state.services.tokens.create("outage-support", "support"),
    }
    with TestClient(app, raise_server_exceptions=False) as client:
        yield proxy, client, tokens


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_postgres_cut_answers_503_fast_and_heals(
    served: tuple[PgProxy, TestClient, dict[str, str]],
) -> None:
    proxy, client, tokens = served
    worker, support = _bearer(tokens["worker"]), _bearer(tokens["support"])
    r = client.post("/v1/registrations", json={"product": "p", "file_id": "f"}, headers=worker)
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    r = client.post(f"/v1/registrations/{rid}/sessions", json={"sync_type": "time"}, headers=worker)
    sid = r.json()["id"]
    body = {"records": [{"entity_type": "T", "key": "k1", "digest": "d1"}]}
    position = client.post(RECORDS.format(rid=rid, sid=sid), json=body, headers=worker).json()[
        "position"
    ]
    assert client.get("/v1/health").status_code == 200

    proxy.cut()
    cut_at = time.monotonic()
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/v1/health", {}),
        ("GET", "/v1/registrations", {"headers": worker}),
        ("GET", f"/v1/registrations/{rid}", {"headers": worker}),
        (
            "POST",
            "/v1/registrations",
            {"headers": worker, "json": {"product": "p", "file_id": "g"}},
        ),
        ("POST", RECORDS.format(rid=rid, sid=sid), {"headers": worker, "json": body}),
        ("GET", f"/v1/registrations/{rid}/receipts", {"headers": worker}),
        ("GET", "/v1/log/proof/inclusion", {"headers": support, "params": {"position": 1}}),
        ("GET", "/v1/log/checkpoint", {}),
    ]
    first: float | None = None
    for method, path, kw in calls:
        started = time.monotonic()
        r = client.request(method, path, **kw)
        took = time.monotonic() - started
        assert_unavailable(r)
        assert took < 2.0, f"{method} {path} took {took:.2f} s to answer 503"
        first = first or time.monotonic() - cut_at
    health = client.get("/v1/health").json()["error"]
    assert (
        "cannot be reached" in health["message"] and health["details"]["database"] == "postgresql"
    )

    proxy.restore()
    restored_at = time.monotonic()
    while client.get("/v1/health").status_code != 200:
        assert time.monotonic() - restored_at < 10, "the service did not recover by itself"
        time.sleep(0.05)
    recovered = time.monotonic() - restored_at
    print(
        f"\noutage: first 503 {first * 1000:.0f} ms after the cut; healthy {recovered:.2f} s after"
    )
    # Every path works again on the first try: no stale pooled connection answers 500.
    body2 = {"records": [{"entity_type": "T", "key": "k2", "digest": "d2"}]}
    r = client.post(RECORDS.format(rid=rid, sid=sid), json=body2, headers=worker)
    assert r.status_code == 200, r.text
    after = r.json()["position"]
    assert after > position
    r = client.get(
        f"/v1/registrations/{rid}/receipts", params={"min_position": after}, headers=worker
    )
    assert r.status_code == 200, r.text
    assert {item["key"] for item in r.json()["items"]} == {"k1", "k2"}


def test_postgres_connection_lost_during_commit_says_outcome_unknown(
    pg_proxy: tuple[PgProxy, Database],
) -> None:
    proxy, database = pg_proxy
    app = create_app(database, start_background=False)
    token = app.state.services.tokens.create("commit-worker", "worker")
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/v1/health").status_code == 200
        proxy.cut_when_sent(b"COMMIT")
        r = client.post(
            "/v1/registrations", json={"product": "p", "file_id": "f"}, headers=_bearer(token)
        )
        assert proxy.cuts == 1
        assert_unavailable(r, "commit_unknown")
        assert "may or may not" in r.json()["error"]["message"]
        proxy.restore()
        # The COMMIT never reached the server: repeating the request records it now.
        deadline = time.monotonic() + 10
        while (
            r := client.post(
                "/v1/registrations", json={"product": "p", "file_id": "f"}, headers=_bearer(token)
            )
        ).status_code == 503:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert r.status_code == 201, r.text


def test_sqlite_full_disk_answers_storage_full(
    sqlite_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = create_app(sqlite_database)
    token = setup.state.services.tokens.create("full-worker", "worker")
    with TestClient(setup) as client:
        r = client.post(
            "/v1/registrations", json={"product": "p", "file_id": "f"}, headers=_bearer(token)
        )
        rid = r.json()["id"]
        r = client.post(
            f"/v1/registrations/{rid}/sessions", json={"sync_type": "time"}, headers=_bearer(token)
        )
        sid = r.json()["id"]
    pages = sqlite_pages(sqlite_database)
    with sqlite_page_cap(pages + 8, monkeypatch):
        app = create_app(sqlite_database)
        with TestClient(app, raise_server_exceptions=False) as client:
            accepted = 0
            position = 0
            for n in range(200):
                records = [
                    {"entity_type": "T", "key": f"k{n}-{i}", "digest": "x" * 64} for i in range(50)
                ]
                r = client.post(
                    RECORDS.format(rid=rid, sid=sid),
                    json={"records": records},
                    headers=_bearer(token),
                )
                if r.status_code != 200:
                    break
                accepted += 1
                position = r.json()["position"]
            assert_unavailable(r, "storage_full")
            assert "out of space" in r.json()["error"]["message"]
            assert accepted > 0
            # Reads still answer, and the refused batch recorded nothing.
            r = client.get(
                f"/v1/registrations/{rid}/sessions/{sid}",
                params={"min_position": position},
                headers=_bearer(token),
            )
            assert r.status_code in (200, 503), r.text
    app = create_app(sqlite_database, start_background=False)
    with TestClient(app) as client:
        r = client.get(f"/v1/registrations/{rid}/sessions", headers=_bearer(token))
        assert r.status_code == 200
    from domain.infra.eventlog import EventLog

    with EventLog.open(sqlite_database) as log:
        assert log.max_position() == position
