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
from tests.outage_kit import (
    PgProxy,
    PrivatePostgres,
    pg_proxy,
    private_postgres,
    sqlite_page_cap,
    sqlite_pages,
)

__all__ = ["pg_proxy", "private_postgres"]

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
        # A register's claim and event are one autocommit statement (the claim a CTE of
        # the insert function's call): lost once it is sent, its outcome is unknown.
        proxy.cut_when_sent(b"syncledger_insert_events")
        r = client.post(
            "/v1/registrations", json={"product": "p", "file_id": "f"}, headers=_bearer(token)
        )
        assert proxy.cuts == 1
        assert_unavailable(r, "commit_unknown")
        assert "may or may not" in r.json()["error"]["message"]
        proxy.restore()
        # The statement never reached the server: repeating the request records it now.
        deadline = time.monotonic() + 10
        while (
            r := client.post(
                "/v1/registrations", json={"product": "p", "file_id": "f"}, headers=_bearer(token)
            )
        ).status_code == 503:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert r.status_code == 201, r.text
        # Events without side rows are saved by the same call, shared with concurrent saves
        # (group commit): lost once it is sent, its outcome is unknown too.
        rid = r.json()["id"]
        start = {"sync_type": "time", "session_id": "0f2b4c6d-8e1a-4b3c-9d5e-7f6a8b9c0d1e"}
        proxy.cut_when_sent(b"syncledger_insert_events")
        r = client.post(f"/v1/registrations/{rid}/sessions", json=start, headers=_bearer(token))
        assert proxy.cuts == 2
        assert_unavailable(r, "commit_unknown")
        proxy.restore()
        deadline = time.monotonic() + 10
        while (
            r := client.post(
                f"/v1/registrations/{rid}/sessions", json=start, headers=_bearer(token)
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
            # Reads still answer (the views may lag: writing them needs room too).
            r = client.get(f"/v1/registrations/{rid}/sessions", headers=_bearer(token))
            assert r.status_code == 200, r.text
            assert client.get("/v1/health").status_code == 200
    app = create_app(sqlite_database, start_background=False)
    with TestClient(app) as client:
        r = client.get(f"/v1/registrations/{rid}/sessions", headers=_bearer(token))
        assert r.status_code == 200
    from domain.infra.eventlog import EventLog

    with EventLog.open(sqlite_database) as log:
        assert log.max_position() == position


def test_console_page_and_sign_in_say_unavailable_in_html(
    served: tuple[PgProxy, TestClient, dict[str, str]],
) -> None:
    proxy, client, tokens = served
    signed = client.post(
        "/console/sign-in", data={"token": tokens["support"]}, follow_redirects=False
    )
    assert signed.status_code == 303, signed.text
    assert client.get("/console/registrations").status_code == 200
    proxy.cut()
    for method, path in (("GET", "/console/registrations"), ("POST", "/console/sign-in")):
        started = time.monotonic()
        kw: dict[str, Any] = {"data": {"token": tokens["support"]}} if method == "POST" else {}
        page = client.request(method, path, follow_redirects=False, **kw)
        assert time.monotonic() - started < 2.0
        assert page.status_code == 503, page.text
        assert page.headers["content-type"].startswith("text/html")
        assert int(page.headers["Retry-After"]) > 0
        assert "The ledger is unavailable" in page.text and "Traceback" not in page.text
    proxy.restore()


def test_proofs_reuse_pooled_connections(pg_proxy: tuple[PgProxy, Database]) -> None:
    """A proof borrows a connection of the process's pool: twenty proofs open none (before,
    each opened two), and a proof answers 503 at once while the server is away."""
    proxy, database = pg_proxy
    app = create_app(database, start_background=False)  # only requests use the pools
    services = app.state.services
    worker = _bearer(services.tokens.create("proof-worker", "worker"))
    support = _bearer(services.tokens.create("proof-support", "support"))
    with TestClient(app, raise_server_exceptions=False) as client:
        for n in range(3):
            client.post(
                "/v1/registrations", json={"product": "p", "file_id": f"f{n}"}, headers=worker
            )
        services.tree.step(force=True)

        def proof() -> Any:
            return client.get("/v1/log/proof/inclusion", params={"position": 2}, headers=support)

        for _ in range(3):
            assert proof().status_code == 200, proof().text
        accepted = proxy.accepted
        for _ in range(20):
            assert proof().status_code == 200
        assert proxy.accepted == accepted
        proxy.cut()
        started = time.monotonic()
        assert_unavailable(proof())
        assert time.monotonic() - started < 2.0
        proxy.restore()


def test_ledger_on_a_cut_database_fails_fast_with_an_outage(
    pg_proxy: tuple[PgProxy, Database],
) -> None:
    """eventsourcing's own pool and retries: the Ledger gives up within two seconds."""
    from domain.infra.outage import classify
    from domain.ledger import Ledger
    from domain.values import Context

    proxy, database = pg_proxy
    ledger = Ledger(database=database)
    agent = Context.system("outage")
    try:
        rid = ledger.register(agent, product="p", file_id="f").registration_id
        proxy.cut()
        started = time.monotonic()
        with pytest.raises(Exception) as raised:
            ledger.start_session(agent, rid, sync_type="time")
        assert time.monotonic() - started < 2.0
        # A warm command's first contact with the database is its save (it trusts the
        # cache, domain/unit_of_work.py): if the pool notices the cut before the call is on
        # the wire it is refused as unavailable, once the call is sent its outcome is
        # unknown. Both are outages (503 with Retry-After), never a 500.
        assert classify(raised.value) in ("database_unavailable", "commit_unknown")
        proxy.restore()
        deadline = time.monotonic() + 10
        while True:
            try:
                ledger.start_session(agent, rid, sync_type="time")
                break
            except Exception as exc:
                assert classify(exc) == "database_unavailable" and time.monotonic() < deadline
                time.sleep(0.05)
    finally:
        ledger.close()


def test_cli_says_one_line_on_a_full_disk(
    sqlite_database: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    from api.cli import main

    def run(*args: str) -> int:
        monkeypatch.setattr(
            sys, "argv", ["syncledger", "--database-url", sqlite_database.url, *args]
        )
        with pytest.raises(SystemExit) as done:
            main()
        return int(done.value.code or 0)

    assert run("tokens", "create", "first", "--role", "support") == 0
    capsys.readouterr()
    with sqlite_page_cap(sqlite_pages(sqlite_database), monkeypatch):
        assert run("demo", "--sessions", "12") == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: storage_full:"), lines


def test_a_real_server_stopped_and_started_again(private_postgres: PrivatePostgres) -> None:
    """The same on a server of the test's own that really stops (its goodbye to every
    connection, then refused connects) and starts again: 503s within two seconds, healthy
    again within a few seconds of the restart, with no stale connection answering 500."""
    app = create_app(private_postgres.database)
    token = app.state.services.tokens.create("real-worker", "worker")
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.post(
            "/v1/registrations", json={"product": "p", "file_id": "f"}, headers=_bearer(token)
        )
        assert r.status_code == 201, r.text
        assert client.get("/v1/registrations", headers=_bearer(token)).status_code == 200
        private_postgres.stop()

        took = []
        for path in ("/v1/health", "/v1/registrations", "/v1/registrations"):
            started = time.monotonic()
            assert_unavailable(client.get(path, headers=_bearer(token)))
            took.append(time.monotonic() - started)
            assert took[-1] < 2.0
        private_postgres.start()
        restarted_at = time.monotonic()
        while client.get("/v1/health").status_code != 200:
            assert time.monotonic() - restarted_at < 10, "the service did not recover by itself"
            time.sleep(0.05)
        recovered = time.monotonic() - restarted_at
        r = client.post(
            "/v1/registrations", json={"product": "p", "file_id": "g"}, headers=_bearer(token)
        )
        assert r.status_code == 201, r.text
        print(f"\nreal server: 503s take {', '.join(f'{t * 1000:.0f} ms' for t in took)}")
        print(f"real server: healthy {recovered:.2f} s after the start")


def test_postgres_out_of_resources_is_storage_full(postgres_database: Database) -> None:
    """SQLSTATE class 53 (here 53400: a temporary file over temp_file_limit, as a disk that
    fills up mid-statement would) is storage_full; too many connections is not."""
    import psycopg

    from domain.infra.outage import classify

    with psycopg.connect(postgres_database.conninfo, autocommit=True) as conn:
        conn.execute("SET work_mem = '64kB'")
        conn.execute("SET temp_file_limit = '64kB'")
        with pytest.raises(psycopg.Error) as raised:
            conn.execute(
                "SELECT count(*) FROM (SELECT g FROM generate_series(1, 200000) g "
                "ORDER BY g DESC) s"
            )
    assert (raised.value.sqlstate or "").startswith("53")
    assert classify(raised.value) == "storage_full"
    assert classify(psycopg.errors.TooManyConnections()) == "database_unavailable"


def test_every_endpoint_answers_503_not_500_while_the_server_is_away(
    served: tuple[PgProxy, TestClient, dict[str, str]],
) -> None:
    proxy, client, tokens = served
    spec = client.get("/openapi.json").json()
    proxy.cut()
    seen = 0
    for path, operations in spec["paths"].items():
        url = path
        for name in ("rid", "sid", "aid", "approval_id", "webhook_id", "request_id", "token_name"):
            url = url.replace("{" + name + "}", "7b0c1f8e-4d6a-4f1e-9c3b-2a5d8e9f0a1b")
        for method in operations:
            started = time.monotonic()
            r = client.request(
                method.upper(),
                url,
                headers=_bearer(tokens["support"]),
                json={} if method in ("post", "patch", "put", "delete") else None,
            )
            took = time.monotonic() - started
            seen += 1
            assert r.status_code != 500, f"{method.upper()} {url}: {r.text}"
            assert took < 2.0, f"{method.upper()} {url} took {took:.2f} s"
            if r.status_code == 503:
                assert r.headers.get("Retry-After"), f"{method.upper()} {url}"
                assert r.json()["error"]["code"] in ("database_unavailable", "commit_unknown")
    assert seen > 40
    proxy.restore()


def test_first_requests_after_a_restart_succeed_on_fresh_connections(
    pg_proxy: tuple[PgProxy, Database],
) -> None:
    """Every pooled connection dies while idle (a restart nobody saw: no runner running to
    notice it): the next requests, reads and writes, are served on fresh connections at the
    first attempt (before, each took a stale one and answered 500)."""
    proxy, database = pg_proxy
    app = create_app(database, start_background=False)
    worker = _bearer(app.state.services.tokens.create("restart-worker", "worker"))
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.post("/v1/registrations", json={"product": "p", "file_id": "f"}, headers=worker)
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        assert client.get("/v1/registrations", headers=worker).status_code == 200
        proxy.cut()
        proxy.restore()
        r = client.post(
            f"/v1/registrations/{rid}/sessions", json={"sync_type": "time"}, headers=worker
        )
        assert r.status_code == 201, r.text
        app.state.services.read_models.run_once()
        r = client.get(f"/v1/registrations/{rid}/sessions", headers=worker)
        assert r.status_code == 200 and len(r.json()["items"]) == 1, r.text
        assert client.get("/v1/health").status_code == 200
