"""Receipts, diff, sync requests, verification and time travel."""

from __future__ import annotations

from tests.api.conftest import Api, assert_error


def test_receipts_and_diff(api: Api) -> None:
    rid = api.register("cch-oneclick", "central")["id"]
    sid = api.start(rid, "periodic")["id"]
    out = api.records(
        rid,
        sid,
        [("Client List", "C-1", "a"), ("Client List", "C-2", "b"), ("AP Nominals", "N-1", "c")],
    )
    base = f"/v1/registrations/{rid}/receipts"
    got = api.read(base, out["position"])
    assert len(got["items"]) == 3
    assert set(got["items"][0]) >= {"entity_type", "key", "digest", "session_id", "synced_at"}
    assert len(api.read(base, out["position"], entity_type="Client List")["items"]) == 2
    assert [r["key"] for r in api.read(base, out["position"], key="N-1")["items"]] == ["N-1"]
    r = api.post(
        f"{base}/diff",
        params={"min_position": out["position"]},
        json={
            "records": [
                {"entity_type": "Client List", "key": "C-1", "digest": "a"},
                {"entity_type": "Client List", "key": "C-2", "digest": "changed"},
                {"entity_type": "Team Security", "key": "S-1", "digest": "x"},
            ]
        },
    )
    assert r.status_code == 200, r.text
    diff = r.json()
    assert diff["unchanged"] == 1
    assert diff["changed"] == [{"entity_type": "Client List", "key": "C-2"}]
    assert diff["missing"] == [{"entity_type": "Team Security", "key": "S-1"}]
    assert diff["position"] >= out["position"]
    too_many = [{"entity_type": "T", "key": str(i), "digest": "d"} for i in range(10_001)]
    assert_error(api.post(f"{base}/diff", json={"records": too_many}), 422, "validation_error")
    assert_error(api.get(base, params={"cursor": "garbage!!"}), 422, "validation_error")


def test_sync_requests(api: Api) -> None:
    rid = api.register("cch-oneclick", "central")["id"]
    base = f"/v1/registrations/{rid}/sync-requests"
    error = assert_error(
        api.post(base, role="support", json={"kind": "full"}), 422, "validation_error"
    )
    assert error["details"]["field"] == "confirm"
    assert_error(api.post(base, role="support", json={"kind": "weekly"}), 422, "validation_error")
    r = api.post(base, role="support", json={"kind": "periodic"})
    assert r.status_code == 201, r.text
    periodic = r.json()
    assert periodic["status"] == "pending" and periodic["kind"] == "periodic"
    full = api.post(base, role="support", json={"kind": "full", "confirm": True}).json()
    pending = api.read(base, full["position"], status="pending")
    assert {i["id"] for i in pending["items"]} == {periodic["id"], full["id"]}
    started = api.start(rid, "full", request_id=full["id"])
    fulfilled = api.read(base, started["position"], status="fulfilled")
    assert [i["id"] for i in fulfilled["items"]] == [full["id"]]
    assert fulfilled["items"][0]["fulfilled_by_session"] == started["id"]
    assert_error(api.get(base, params={"status": "other"}), 422, "validation_error")


def test_verify_and_as_of(api: Api) -> None:
    rid = api.register()["id"]
    first = api.start(rid)
    api.complete(rid, first["id"])
    r = api.get("/v1/audit/verify", role="auditor")
    if r.status_code == 501:
        assert_error(r, 501, "not_implemented")
    else:
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["ok"] is True and body["first_bad_position"] is None
        assert set(body["head"]) >= {"position", "digest"}
    assert_error(api.get("/v1/audit/verify", role="worker"), 403, "forbidden")
    r = api.get(f"/v1/registrations/{rid}/sessions", params={"as_of_position": first["position"]})
    if r.status_code == 501:
        assert_error(r, 501, "not_implemented")
    else:
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        assert [s["id"] for s in items] == [first["id"]]
        assert items[0]["status"] == "in_progress"
    assert_error(
        api.get(
            f"/v1/registrations/{rid}/sessions",
            params={"as_of": "2024-01-01T00:00:00Z", "as_of_position": 1},
        ),
        422,
        "validation_error",
    )
