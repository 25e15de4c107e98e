"""Auth: 401 without/unknown/revoked tokens, 403 by role, the actor is the token's name."""

from __future__ import annotations

from tests.api.conftest import Api, assert_error


def test_health_needs_no_token(api: Api) -> None:
    r = api.get("/v1/health", role=None)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["database"] in ("sqlite", "postgresql")
    assert isinstance(body["projections"], dict)


def test_missing_unknown_and_revoked_tokens_are_401(api: Api) -> None:
    assert_error(api.get("/v1/registrations", role=None), 401, "unauthenticated")
    assert_error(api.get("/v1/registrations", role="not-a-token"), 401, "unauthenticated")
    r = api.client.get("/v1/registrations", headers={"Authorization": "Basic abc"})
    assert_error(r, 401, "unauthenticated")
    store = api.client.app.state.services.tokens  # type: ignore[attr-defined]
    token = store.create("temp", "worker")
    assert api.get("/v1/registrations", role=token).status_code == 200
    assert store.revoke("temp") is True
    assert_error(api.get("/v1/registrations", role=token), 401, "unauthenticated")
    assert store.revoke("temp") is False


def test_tokens_are_stored_only_as_hashes(api: Api) -> None:
    store = api.client.app.state.services.tokens  # type: ignore[attr-defined]
    token = store.create("hashed", "auditor")
    rows = store._execute("SELECT token_hash FROM {table} WHERE name = {p}", ("hashed",))
    assert rows and rows[0][0] != token and len(rows[0][0]) == 64
    assert [t.name for t in store.list_tokens()] == sorted(t.name for t in store.list_tokens())


def test_roles(api: Api) -> None:
    reg = api.register()
    rid = reg["id"]
    sid = api.start(rid)["id"]
    base = f"/v1/registrations/{rid}"
    # auditor changes nothing
    assert_error(
        api.post("/v1/registrations", role="auditor", json={"product": "p", "file_id": "f"}),
        403,
        "forbidden",
    )
    assert_error(
        api.post(f"{base}/sessions", role="auditor", json={"sync_type": "time"}), 403, "forbidden"
    )
    # worker can never delete, reset, undo or request syncs
    for path, body in (
        (f"{base}/sessions/{sid}/delete", {"reason": "stuck"}),
        (f"{base}/reset", {"reason": "x", "confirm_file_id": "acme.qbw"}),
        (f"{base}/sync-requests", {"kind": "periodic"}),
        ("/v1/audit/1/undo", {"reason": "x"}),
    ):
        error = assert_error(api.post(path, role="worker", json=body), 403, "forbidden")
        assert error["details"]["role"] == "worker"
    # raw events and the audit log: support and auditor only
    assert_error(api.get(f"{base}/events", role="worker"), 403, "forbidden")
    assert_error(api.get("/v1/audit", role="worker"), 403, "forbidden")
    assert api.get(f"{base}/events", role="auditor").status_code == 200
    assert api.get("/v1/audit", role="support").status_code == 200
    # auditor may diff
    r = api.post(f"{base}/receipts/diff", role="auditor", json={"records": []})
    assert r.status_code == 200, r.text


def test_actor_is_the_token_name_never_a_body_field(api: Api) -> None:
    headers = {**api.headers("worker"), "X-Correlation-ID": "req-123"}
    body = {"product": "p", "file_id": "f"}
    # An "actor" in the body is not a field: refused by name, nothing recorded.
    r = api.client.post("/v1/registrations", json={**body, "actor": "mallory"}, headers=headers)
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "actor", r.text
    r = api.client.post("/v1/registrations", json=body, headers=headers)
    assert r.status_code == 201, r.text
    assert r.headers["x-correlation-id"] == "req-123"
    events = api.get(f"/v1/registrations/{r.json()['id']}/events", role="auditor").json()
    assert events["items"][0]["actor"] == "worker-token"
    assert events["items"][0]["correlation_id"] == "req-123"
    assert "mallory" not in str(events)


def test_correlation_id_generated_when_absent(api: Api) -> None:
    r = api.get("/v1/health", role=None)
    assert len(r.headers["x-correlation-id"]) >= 32
