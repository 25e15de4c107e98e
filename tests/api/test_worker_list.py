"""Issue 16: a worker's registrations list costs what support's does, whatever it holds.

It used to read one registration per held id (3,000 holdings: 95 ms against support's 9 ms),
then fetched every held id and sent them back as one array (1.8x support's on PostgreSQL).
Now it is the same single page query as support's, joined with the worker-scope table.
"""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api, assert_error


def test_worker_list_is_one_page_query_not_one_read_per_holding(api: Api) -> None:
    services = api.client.app.state.services  # type: ignore[attr-defined]
    registered = [api.register("accountlink-sage", f"file-{n}.sai") for n in range(7)]
    other = services.tokens.create("agent-elsewhere", "worker")
    r = api.post(
        "/v1/registrations",
        role=other,
        json={"product": "accountlink-sage", "file_id": "not-mine.sai"},
    )
    position = r.json()["position"]
    calls: list[str] = []
    models = services.read_models
    original_get, original_list = models.get_registration, models.list_registrations

    def counting_get(*args: Any, **kwargs: Any) -> Any:
        calls.append("get_registration")
        return original_get(*args, **kwargs)

    def counting_list(*args: Any, **kwargs: Any) -> Any:
        calls.append("list_registrations")
        return original_list(*args, **kwargs)

    models.get_registration, models.list_registrations = counting_get, counting_list
    try:
        mine = api.read("/v1/registrations", position, limit=3)
        worker_calls = list(calls)
        ids = [item["id"] for item in mine["items"]]
        cursor = mine["next_cursor"]
        while cursor:
            page = api.read("/v1/registrations", position, limit=3, cursor=cursor)
            ids += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
    finally:
        models.get_registration, models.list_registrations = original_get, original_list

    assert worker_calls == ["list_registrations"]  # no read per held registration
    assert sorted(ids) == sorted(reg["id"] for reg in registered)  # only its own, each once
    everyone = api.read("/v1/registrations", position, role="support", limit=100)["items"]
    # same order and same fields as support's list, restricted to the worker's holdings
    assert [item["id"] for item in everyone if item["id"] in set(ids)] == ids
    by_id = {item["id"]: item for item in everyone}
    assert all(item == by_id[item["id"]] for item in mine["items"])


def _page_through(api: Api, position: int, role: str, limit: int) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        page = api.read("/v1/registrations", position, role=role, **params)
        assert len(page["items"]) <= limit
        ids += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


def test_worker_list_is_exactly_its_holdings_and_grants_at_hundreds(api: Api) -> None:
    """Rule 13 at a few hundred holdings: the worker's pages (cursors, both backends) hold
    each registration it holds or was granted exactly once, nothing of another worker's or
    of an unclaimed one, in support's order; a grant taken back leaves its list."""
    services = api.client.app.state.services  # type: ignore[attr-defined]
    other = services.tokens.create("agent-elsewhere", "worker")
    mine = {api.register("accountlink-sage", f"held-{n}.sai")["id"] for n in range(240)}
    theirs = [
        api.post(
            "/v1/registrations",
            role=other,
            json={"product": "accountlink-sage", "file_id": f"o{n}"},
        ).json()["id"]
        for n in range(30)
    ]
    unclaimed = api.post(
        "/v1/registrations", role="support", json={"product": "accountlink-sage", "file_id": "u"}
    ).json()["id"]
    granted = theirs[:12]
    position = 0
    for rid in granted:
        made = api.post(
            f"/v1/registrations/{rid}/grants", role="support", json={"token_name": "worker-token"}
        )
        assert made.status_code == 201, made.text
        position = made.json()["position"]
    listed = _page_through(api, position, "worker", 37)
    assert len(listed) == len(set(listed)) == len(mine) + len(granted)
    assert set(listed) == mine | set(granted)
    assert unclaimed not in listed
    everyone = _page_through(api, position, "support", 100)
    assert [rid for rid in everyone if rid in set(listed)] == listed  # support's order
    assert set(everyone) >= set(listed) | set(theirs) | {unclaimed}

    gone = api.client.delete(
        f"/v1/registrations/{granted[0]}/grants/worker-token", headers=api.headers("support")
    )
    assert gone.status_code == 200, gone.text
    after = _page_through(api, gone.json()["position"], "worker", 500)
    assert set(after) == mine | set(granted[1:])
    assert_error(api.get(f"/v1/registrations/{granted[0]}"), 404, "not_found")


def test_worker_list_never_fetches_the_held_ids(api: Api) -> None:
    """The holdings are joined in the page's own query (by the worker-scope table's index),
    not read into the API and sent back as a parameter of thousands of ids."""
    services = api.client.app.state.services  # type: ignore[attr-defined]
    reg = api.register("accountlink-sage", "one.sai")

    def refuse(name: str) -> list[str]:
        raise AssertionError(f"the list fetched {name!r}'s held ids")

    services.tokens.held = refuse
    items = api.read("/v1/registrations", reg["position"])["items"]
    assert [item["id"] for item in items] == [reg["id"]]
