"""Registrations: create (idempotent), list (filters, cursor), get with status, bad input."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api, assert_error

ZERO = "00000000-0000-0000-0000-000000000000"


def test_register_is_idempotent(api: Api) -> None:
    r1 = api.post(
        "/v1/registrations",
        json={"product": "accountlink-quickbooks", "file_id": "acme.qbw", "name": "Acme"},
    )
    assert r1.status_code == 201, r1.text
    body = r1.json()
    assert body["product"] == "accountlink-quickbooks" and body["file_id"] == "acme.qbw"
    assert body["sync_interval_minutes"] == 30 and body["stuck_after_minutes"] == 120
    assert body["position"] >= 1
    r2 = api.post(
        "/v1/registrations", json={"product": "accountlink-quickbooks", "file_id": "acme.qbw"}
    )
    assert r2.status_code == 200
    assert r2.json()["id"] == body["id"]


def test_list_filter_paginate_and_get(api: Api) -> None:
    a = api.register("accountlink-quickbooks", "a.qbw")
    b = api.register("accountlink-quickbooks", "b.qbw")
    c = api.register("cch-oneclick", "central", sync_interval_minutes=15)
    position = c["position"]
    listed = api.read("/v1/registrations", position)
    assert listed["position"] >= position and listed["next_cursor"] is None
    assert [i["id"] for i in listed["items"]] == [c["id"], b["id"], a["id"]]
    for field in (
        "id",
        "product",
        "file_id",
        "name",
        "total_syncs",
        "last_updated",
        "sessions_in_progress",
        "stuck_sessions",
        "receipts",
    ):
        assert field in listed["items"][0]
    only = api.read("/v1/registrations", position, product="cch-oneclick")
    assert [i["id"] for i in only["items"]] == [c["id"]]
    by_file = api.read("/v1/registrations", position, file_id="a.qbw")
    assert [i["id"] for i in by_file["items"]] == [a["id"]]
    first = api.read("/v1/registrations", position, limit=2)
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = api.read("/v1/registrations", position, limit=2, cursor=first["next_cursor"])
    assert [i["id"] for i in first["items"] + rest["items"]] == [c["id"], b["id"], a["id"]]
    one = api.read(f"/v1/registrations/{c['id']}", position, role="auditor")
    assert one["id"] == c["id"] and one["sync_interval_minutes"] == 15
    assert one["status"]["state"] == "idle"
    assert set(one["status"]) >= {"state", "message", "worker", "since", "next_scheduled_sync"}


def test_unknown_registration_is_404(api: Api) -> None:
    assert_error(api.get(f"/v1/registrations/{ZERO}"), 404, "not_found")
    assert_error(
        api.post(f"/v1/registrations/{ZERO}/sessions", json={"sync_type": "time"}), 404, "not_found"
    )
    assert_error(api.get(f"/v1/registrations/{ZERO}/sessions"), 404, "not_found")
    assert_error(api.get(f"/v1/registrations/{ZERO}/events", role="auditor"), 404, "not_found")
    assert_error(api.get("/v1/no-such-thing"), 404, "not_found")


def test_bad_input_names_field_and_limit_and_records_nothing(api: Api) -> None:
    error = assert_error(
        api.post("/v1/registrations", json={"product": "p" * 201, "file_id": "f"}),
        422,
        "validation_error",
    )
    assert error["details"]["field"] == "product"
    assert error["details"]["errors"][0]["max_length"] == 200
    assert "product" in error["message"] and "200" in error["message"]
    error = assert_error(
        api.post(
            "/v1/registrations", json={"product": "p", "file_id": "f", "stuck_after_minutes": 0}
        ),
        422,
        "validation_error",
    )
    assert error["details"]["field"] == "stuck_after_minutes"
    assert_error(api.post("/v1/registrations", json={"file_id": "f"}), 422, "validation_error")
    # whitespace-only passes the schema but not the domain: still a 422, nothing recorded
    assert_error(
        api.post("/v1/registrations", json={"product": "  ", "file_id": "f"}),
        422,
        "validation_error",
    )
    assert_error(
        api.post("/v1/registrations", json={"product": "a\u0000b", "file_id": "f"}),
        422,
        "validation_error",
    )
    assert_error(api.get("/v1/registrations", params={"limit": 1001}), 422, "validation_error")
    assert_error(api.get("/v1/registrations/not-a-uuid"), 422, "validation_error")
    assert api.get("/v1/registrations").json()["items"] == []


def test_malformed_json_is_a_4xx_with_the_error_body(api: Api) -> None:
    for raw in (b"{not json", b"", b"[1, 2", b"\xff\xfe"):
        r = api.client.post(
            "/v1/registrations",
            content=raw,
            headers={**api.headers("worker"), "Content-Type": "application/json"},
        )
        assert 400 <= r.status_code < 500, (raw, r.status_code, r.text)
        assert r.json()["error"]["code"] == "validation_error"
    r = api.client.post(
        "/v1/registrations",
        content=b"[]",
        headers={**api.headers("worker"), "Content-Type": "application/json"},
    )
    assert_error(r, 422, "validation_error")


def test_projection_lagging_is_503(api: Api) -> None:
    error = assert_error(
        api.get("/v1/registrations", params={"min_position": 10**9, "wait_s": 0.05}),
        503,
        "projection_lagging",
    )
    assert error["details"]["min_position"] == 10**9


def test_openapi_docs_show_limits(api: Api) -> None:
    assert api.client.get("/docs").status_code == 200
    schema = api.client.get("/openapi.json").json()
    batch = schema["components"]["schemas"]["BatchIn"]["properties"]["records"]
    assert batch["maxItems"] == 10_000
    record = schema["components"]["schemas"]["RecordIn"]["properties"]
    assert record["key"]["maxLength"] == 512 and record["digest"]["maxLength"] == 128


def test_unexpected_errors_are_500_with_the_error_body_and_no_trace(api: Api) -> None:
    from fastapi.testclient import TestClient

    services = api.client.app.state.services  # type: ignore[attr-defined]
    original = services.read_models.health

    def broken() -> dict[str, dict[str, int]]:
        raise RuntimeError("secret internals")

    services.read_models.health = broken
    try:
        quiet = TestClient(api.client.app, raise_server_exceptions=False)
        r = quiet.get("/v1/health")
    finally:
        services.read_models.health = original
    assert_error(r, 500, "internal_error")
    assert "secret internals" not in r.text and "Traceback" not in r.text


def test_reads_wait_for_min_position_then_503(api: Api, monkeypatch: Any) -> None:
    monkeypatch.setattr("api.reads.WRITE_SETTLE_S", 0.2)
    services = api.client.app.state.services  # type: ignore[attr-defined]
    reg = api.register()
    services.read_models.stop()  # the runners stop: new writes are not projected
    try:
        started = api.start(reg["id"])  # falls back to the aggregate for its body
        assert started["status"] == "in_progress"
        error = assert_error(
            api.get(
                f"/v1/registrations/{reg['id']}/sessions",
                params={"min_position": started["position"], "wait_s": 0.2},
            ),
            503,
            "projection_lagging",
        )
        assert error["details"]["min_position"] == started["position"]
        services.read_models.run_once()
        r = api.get(
            f"/v1/registrations/{reg['id']}/sessions",
            params={"min_position": started["position"], "wait_s": 0.2},
        )
        assert r.status_code == 200 and r.json()["items"][0]["id"] == started["id"]
    finally:
        services.read_models.start()
