"""GET /v1/audit/{position}/unsynced: what a session deletion or a registration reset
unsynced, paged, read back from the log — the same records as `syncledger replay unsynced`,
and as many as the receipts read model counted (issue 10, finding 9)."""

from __future__ import annotations

from typing import Any

from domain import Database
from replay.unsynced import reset_unsynced, unsynced_by_deletion
from tests.api.conftest import Api, assert_error


def _pages(api: Api, position: int, limit: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": limit}
    while True:
        r = api.get(f"/v1/audit/{position}/unsynced", role="auditor", params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["items"]) <= limit
        items += body["items"]
        if body["next_cursor"] is None:
            return items, body
        params = {"limit": limit, "cursor": body["next_cursor"]}


def test_a_deletion_unsynced_is_readable_by_an_auditor(api: Api, app_database: Database) -> None:
    rid = api.register()["id"]
    base = f"/v1/registrations/{rid}/sessions"
    old = api.start(rid)["id"]
    api.records(rid, old, [("Client List", f"C-{i}", "v1") for i in range(1, 8)])
    api.records(rid, old, [("Client List", "C-3", "v2")])  # its newest digest counts
    api.complete(rid, old)
    new = api.start(rid)["id"]
    api.records(rid, new, [("Client List", "C-2", "v9")])  # a newer session keeps C-2
    api.complete(rid, new)
    r = api.post(
        f"{base}/{old}/delete",
        role="support",
        json={"reason": "wrong file", "override": True, "ticket": "SUP-9"},
    )
    assert r.status_code == 200, r.text
    deleted = r.json()
    entry = api.read("/v1/audit", deleted["position"], role="auditor", registration_id=rid)
    (audit,) = [e for e in entry["items"] if e["type"] == "session_deleted"]

    items, last = _pages(api, audit["position"], limit=2)
    expected = [("Client List", f"C-{i}", "v2" if i == 3 else "v1") for i in (1, 3, 4, 5, 6, 7)]
    assert [(i["entity_type"], i["key"], i["digest"]) for i in items] == expected
    assert last["total"] == deleted["unsynced"] == len(expected)
    assert last["kind"] == "session_deleted" and last["cutoff"] is None
    assert last["session_id"] == old and last["registration_id"] == rid
    assert last["position"] == audit["position"]
    # The same as the command line's derivation; the companion event answers the same.
    assert unsynced_by_deletion(app_database, audit["position"]) == expected
    assert _pages(api, deleted["position"], limit=100)[0] == items


def test_unsynced_refuses_what_is_not_a_deletion(api: Api) -> None:
    rid = api.register()["id"]
    done = api.start(rid)["id"]
    written = api.records(rid, done, [("Client List", "C-1", "v1")])
    api.complete(rid, done)
    sid = api.start(rid)["id"]
    not_found = assert_error(
        api.get(f"/v1/audit/{written['position']}/unsynced", role="auditor"), 404, "not_found"
    )
    assert "session_deleted or registration_reset" in not_found["message"]
    r = api.post(
        f"/v1/registrations/{rid}/sessions/{sid}/delete",
        role="support",
        json={"reason": "stuck"},
    )
    assert r.status_code == 200, r.text
    deleted = r.json()["position"]
    assert _pages(api, deleted, limit=5)[1]["total"] == 0  # it had synced nothing
    assert_error(api.get(f"/v1/audit/{deleted}/unsynced", role="worker"), 403, "forbidden")
    assert_error(
        api.get(f"/v1/audit/{deleted}/unsynced", role="auditor", params={"cursor": "bad"}),
        422,
        "validation_error",
    )
    assert_error(api.get("/v1/audit/0/unsynced", role="auditor"), 422, "validation_error")


def _reset(api: Api, rid: str) -> dict[str, Any]:
    r = api.post(
        f"/v1/registrations/{rid}/reset",
        role="support",
        json={"reason": "start over", "confirm_file_id": "acme.qbw"},
    )
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_a_reset_unsynced_is_readable_by_an_auditor(api: Api, app_database: Database) -> None:
    rid = api.register(file_id="acme.qbw")["id"]
    first = api.start(rid)["id"]
    api.records(rid, first, [("Client List", "C-1", "v1"), ("Client List", "C-2", "v1")])
    api.complete(rid, first)
    second = api.start(rid)["id"]
    api.records(rid, second, [("Client List", "C-3", "v1"), ("Client List", "C-2", "v2")])
    api.complete(rid, second)
    gone = api.start(rid)["id"]  # deleted before the reset: its receipt is not the reset's
    api.records(rid, gone, [("Client List", "C-4", "v1")])
    r = api.post(
        f"/v1/registrations/{rid}/sessions/{gone}/delete",
        role="support",
        json={"reason": "wrong", "override": True, "ticket": "SUP-3"},
    )
    assert r.status_code == 200, r.text

    reset = _reset(api, rid)
    audit = api.read("/v1/audit", reset["position"], role="auditor", type="registration_reset")
    (entry,) = [e for e in audit["items"] if e["registration_id"] == rid]
    items, last = _pages(api, entry["position"], limit=2)
    expected = [
        ("Client List", "C-1", "v1"),
        ("Client List", "C-2", "v2"),
        ("Client List", "C-3", "v1"),
    ]
    assert [(i["entity_type"], i["key"], i["digest"]) for i in items] == expected
    # As many as the receipts read model unsynced (its own, set-based rule).
    assert last["total"] == reset["unsynced"] == entry["unsynced"] == 3
    assert last["kind"] == "registration_reset" and last["session_id"] is None
    assert last["cutoff"] >= 3 and last["registration_id"] == rid
    assert reset_unsynced(app_database, reset["position"]).records == expected  # companion

    # A later reset unsyncs only what was synced since: the earlier one is still in force.
    later = api.start(rid)["id"]
    api.records(rid, later, [("Client List", "C-1", "v3"), ("Client List", "C-5", "v1")])
    api.complete(rid, later)
    again = _reset(api, rid)
    items, last = _pages(api, again["position"], limit=10)
    assert [(i["key"], i["digest"]) for i in items] == [("C-1", "v3"), ("C-5", "v1")]
    assert last["total"] == again["unsynced"] == 2
