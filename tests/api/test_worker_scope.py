"""Worker scope (DESIGN.md roles): a worker token reads and writes only its registrations.

A registration belongs to the worker token that registered it first (rule 13; another worker
registering it is refused, tests/api/test_grants.py), and to the worker tokens support
granted it to. Any other registration is 404 `not_found` for a worker, exactly like one that
does not exist; support and auditor see everything.
"""

from __future__ import annotations

import uuid
from typing import Any

from tests.api.conftest import Api, assert_error


def _store(api: Api) -> Any:
    return api.client.app.state.services.tokens  # type: ignore[attr-defined]


def _worker(api: Api, name: str) -> str:
    return str(_store(api).create(name, "worker"))


def _register(api: Api, role: str, product: str, file_id: str) -> dict[str, Any]:
    r = api.post("/v1/registrations", role=role, json={"product": product, "file_id": file_id})
    assert r.status_code in (200, 201), r.text
    return r.json()  # type: ignore[no-any-return]


def _items(api: Api, role: str, position: int, **params: Any) -> list[str]:
    body = api.read("/v1/registrations", position, role=role, **params)
    return [item["id"] for item in body["items"]]


def test_worker_reads_and_writes_only_its_registrations(api: Api) -> None:
    other = _worker(api, "agent-b")
    mine = api.register("accountlink-quickbooks", "mine.qbw")  # the fixture's worker-token
    theirs = _register(api, other, "accountlink-quickbooks", "theirs.qbw")
    sid = api.start(mine["id"])["id"]
    done = api.records(mine["id"], sid, [("Client List", "C-1", "d1")])
    position = done["position"]

    base = f"/v1/registrations/{mine['id']}"
    # every read and write of a registration it doesn't hold: 404, same as an unknown one
    for path in (
        "",
        "/sessions",
        f"/sessions/{sid}",
        f"/sessions/{sid}/records",
        "/receipts",
        "/sync-requests",
    ):
        error = assert_error(api.get(base + path, role=other), 404, "not_found")
        assert error["details"]["registration_id"] == mine["id"]
        assert api.get(base + path, params={"min_position": position}).status_code == 200
    for path, body in (
        ("/sessions", {"sync_type": "custom"}),
        (
            f"/sessions/{sid}/records",
            {"records": [{"entity_type": "T", "key": "k", "digest": "d"}]},
        ),
        (f"/sessions/{sid}/errors", {"message": "boom"}),
        (f"/sessions/{sid}/fail", {"reason": "not mine"}),
        (f"/sessions/{sid}/complete", {}),
        ("/receipts/diff", {"records": [{"entity_type": "T", "key": "k", "digest": "d"}]}),
    ):
        assert_error(api.post(base + path, role=other, json=body), 404, "not_found")
    unknown = assert_error(
        api.get(f"/v1/registrations/{uuid.uuid4()}", role=other), 404, "not_found"
    )
    held_elsewhere = assert_error(api.get(base, role=other), 404, "not_found")
    assert unknown["message"].split(" id ")[0] == held_elsewhere["message"].split(" id ")[0]
    # support-only actions stay 403 for any worker (the role is checked first)
    assert_error(
        api.post(f"{base}/sessions/{sid}/delete", role=other, json={"reason": "x"}),
        403,
        "forbidden",
    )
    # nothing the refused writes tried was recorded
    session = api.read(f"{base}/sessions/{sid}", position)
    assert session["status"] == "in_progress" and session["records_synced"] == 1
    assert session["error_count"] == 0

    # lists: each worker sees its own; support and auditor see both
    last = theirs["position"]
    assert _items(api, "worker", position) == [mine["id"]]
    assert _items(api, other, last) == [theirs["id"]]
    for role in ("support", "auditor"):
        assert set(_items(api, role, max(last, position))) == {mine["id"], theirs["id"]}
        assert api.get(f"/v1/registrations/{theirs['id']}", role=role).status_code == 200


def test_registering_a_held_registration_is_refused(api: Api) -> None:
    """Rule 13 (issue 11, finding 2): registering again takes nothing over."""
    other = _worker(api, "agent-c")
    reg = api.register("cch-oneclick", "central")
    assert_error(api.get(f"/v1/registrations/{reg['id']}", role=other), 404, "not_found")
    again = api.post(
        "/v1/registrations", role=other, json={"product": "cch-oneclick", "file_id": "central"}
    )
    error = assert_error(again, 409, "registration_held")
    assert reg["id"] not in again.text and "central" not in again.text
    assert_error(api.get(f"/v1/registrations/{reg['id']}", role=other), 404, "not_found")
    assert api.read(f"/v1/registrations/{reg['id']}", reg["position"])  # still the first's
    assert _items(api, other, reg["position"]) == []
    assert "tokens grant agent-c" in error["message"]


def test_support_registrations_are_not_a_workers(api: Api) -> None:
    reg = _register(api, "support", "accountlink-quickbooks", "support.qbw")
    assert_error(api.get(f"/v1/registrations/{reg['id']}"), 404, "not_found")
    # A write answers at once; a read passes its position to read it (read-your-writes).
    assert api.read(f"/v1/registrations/{reg['id']}", reg["position"], role="auditor")
    assert _items(api, "worker", reg["position"]) == []


def test_worker_list_filters_and_pages(api: Api) -> None:
    ids = []
    for file_id in ("a.qbw", "b.qbw", "c.qbw"):
        ids.append(api.register("accountlink-quickbooks", file_id)["id"])
    oneclick = api.register("cch-oneclick", "central")
    _register(api, "support", "accountlink-quickbooks", "elsewhere.qbw")
    position = oneclick["position"]
    everything = api.read("/v1/registrations", position, limit=1000)
    assert {item["id"] for item in everything["items"]} == {*ids, oneclick["id"]}
    assert all("status" not in item for item in everything["items"])
    # the same order as anyone's list: last_updated desc
    support_order = [
        i["id"]
        for i in api.read("/v1/registrations", position, role="support", limit=1000)["items"]
    ]
    assert [i["id"] for i in everything["items"]] == [
        rid for rid in support_order if rid in {*ids, oneclick["id"]}
    ]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = api.read("/v1/registrations", position, **params)
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [i["id"] for i in everything["items"]]
    assert set(_items(api, "worker", position, product="accountlink-quickbooks")) == set(ids)
    assert _items(api, "worker", position, file_id="central") == [oneclick["id"]]
    assert_error(
        api.get("/v1/registrations", params={"cursor": "not-a-cursor"}), 422, "validation_error"
    )


def test_a_rotated_worker_token_keeps_its_registrations(api: Api) -> None:
    store = _store(api)
    token = store.create("agent-d", "worker")
    r = api.post("/v1/registrations", role=token, json={"product": "p", "file_id": "f"})
    rid = r.json()["id"]
    assert store.revoke("agent-d")
    assert_error(api.get(f"/v1/registrations/{rid}", role=token), 401, "unauthenticated")
    rotated = store.create("agent-d", "worker")
    assert api.read(f"/v1/registrations/{rid}", r.json()["position"], role=rotated)
    assert store.holds("agent-d", rid) and store.held("agent-d") == [rid]
