"""`FastRoute` answers every request exactly as FastAPI's own handler does (api/fast_route.py).

Each request below is sent twice, with the plans on and off, and the two answers must be
the same: status, content type and body. The requests cover what a plan handles itself
(valid reads, path and query parameters, bodies) and what it must hand over (a bad id, a
bad or missing parameter, a body that is not JSON, too deep, of the wrong type or with an
unknown field, a missing or wrong token, a role that may not). Writes that succeed change
the state, so those are compared on two like sessions: same status, same fields."""

from __future__ import annotations

from typing import Any

import pytest

from api.app import create_app
from api.fast_route import FastRoute, plan_for
from domain.infra.database import Database
from tests.api.conftest import Api

UNKNOWN = "00000000-0000-4000-8000-000000000000"


def answer(api: Api, method: str, path: str, role: str | None, **kw: Any) -> tuple[Any, ...]:
    kw = dict(kw)
    headers = {**api.headers(role), **kw.pop("headers", {})}
    r = api.client.request(method, path, headers=headers, **kw)
    return r.status_code, r.headers.get("content-type"), r.content


def both(api: Api, method: str, path: str, role: str | None = "worker", **kw: Any) -> Any:
    before = FastRoute.fast_answers
    fast = answer(api, method, path, role, **kw)
    took_plan = FastRoute.fast_answers > before
    FastRoute.enabled = False
    try:
        stock = answer(api, method, path, role, **kw)
    finally:
        FastRoute.enabled = True
    assert fast == stock, (method, path, kw)
    return fast, took_plan


@pytest.fixture
def history(api: Api) -> dict[str, str]:
    rid = api.register()["id"]
    sid = ""
    for n in range(3):
        sid = api.start(rid)["id"]
        api.records(rid, sid, [("Client List", f"k-{n}-{i}", "d") for i in range(3)])
        api.complete(rid, sid)
    live = api.start(rid, "full")
    api.read(f"/v1/registrations/{rid}", live["position"])  # the views are still from here
    return {"rid": rid, "sid": sid, "live": live["id"]}


def test_reads_answer_alike(api: Api, history: dict[str, str]) -> None:
    rid, sid = history["rid"], history["sid"]
    taken = []
    for path, params in [
        ("/v1/health", {}),
        (f"/v1/registrations/{rid}", {}),
        (f"/v1/registrations/{rid}/sessions", {"limit": 2}),
        (f"/v1/registrations/{rid}/sessions/{sid}", {}),
        (f"/v1/registrations/{rid}/receipts", {"limit": 5}),
        ("/v1/registrations", {"limit": 10}),
    ]:
        _, took = both(api, "GET", path, params=params)
        taken.append(took)
    assert all(taken), "every one of these reads is answered by its plan"


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": "ten"},
        {"limit": 1001},
        {"cursor": "not-a-cursor"},
        {"cursor": "x" * 3000},
        {"min_position": -1},
        {"wait_s": "soon"},
        {"status": "sleeping"},
        {"limit": ""},
    ],
)
def test_bad_query_parameters_answer_alike(
    api: Api, history: dict[str, str], params: dict[str, Any]
) -> None:
    (status, _, _), _ = both(
        api, "GET", f"/v1/registrations/{history['rid']}/sessions", params=params
    )
    assert status in (200, 422)


def test_bad_ids_tokens_and_roles_answer_alike(api: Api, history: dict[str, str]) -> None:
    rid = history["rid"]
    for path, role in [
        ("/v1/registrations/not-a-uuid", "worker"),
        (f"/v1/registrations/{UNKNOWN}", "support"),
        (f"/v1/registrations/{UNKNOWN}", "worker"),
        (f"/v1/registrations/{rid}/sessions/not-a-uuid", "worker"),
        (f"/v1/registrations/{rid}", None),
        (f"/v1/registrations/{rid}", "no-such-token"),
    ]:
        (status, _, _), _ = both(api, "GET", path, role)
        assert status in (401, 404, 422)
    heartbeat = f"/v1/registrations/{rid}/sessions/{history['live']}/heartbeat"
    (status, _, _), _ = both(api, "POST", heartbeat, "auditor", json={})
    assert status == 403


@pytest.mark.parametrize(
    "kw",
    [
        {"content": b"{not json", "headers": {"content-type": "application/json"}},
        {"content": b"", "headers": {"content-type": "application/json"}},
        {"content": b"{}", "headers": {"content-type": "text/plain"}},
        {"content": b"[]", "headers": {"content-type": "application/json"}},
        {"content": b"[" * 5000 + b"]" * 5000, "headers": {"content-type": "application/json"}},
        {"json": {"message": 12}},
        {"json": {"message": "x", "unknown": 1}},
        {"json": {"message": "x" * 100_000}},
        {"json": {"message": "ok", "entity_type": "Client List", "key": 2**70}},
    ],
)
def test_bad_bodies_answer_alike(api: Api, history: dict[str, str], kw: dict[str, Any]) -> None:
    errors = f"/v1/registrations/{history['rid']}/sessions/{history['live']}/errors"
    (status, _, _), took = both(api, "POST", errors, **kw)
    assert status in (400, 413, 415, 422), status
    assert not took, "a refused body is FastAPI's to answer"


def test_writes_answer_alike(api: Api) -> None:
    """The same write on two like sessions: same status, same fields, each by its path."""
    rid = api.register()["id"]
    one, two = api.start(rid, "full")["id"], api.start(rid, "time")["id"]
    out = []
    for sid, enabled in ((one, True), (two, False)):
        FastRoute.enabled = enabled
        try:
            r = api.post(f"/v1/registrations/{rid}/sessions/{sid}/heartbeat", json={})
            e = api.post(f"/v1/registrations/{rid}/sessions/{sid}/errors", json={"message": "m"})
            c = api.post(f"/v1/registrations/{rid}/sessions/{sid}/complete", json={})
        finally:
            FastRoute.enabled = True
        out.append([(x.status_code, sorted(x.json())) for x in (r, e, c)])
    assert out[0] == out[1]
    ended = api.post(f"/v1/registrations/{rid}/sessions/{one}/heartbeat", json={})
    FastRoute.enabled = False
    try:
        ended_stock = api.post(f"/v1/registrations/{rid}/sessions/{two}/heartbeat", json={})
    finally:
        FastRoute.enabled = True
    assert (ended.status_code, ended.json()["error"]["code"]) == (
        ended_stock.status_code,
        ended_stock.json()["error"]["code"],
    )


def test_every_api_route_has_a_plan(app_database: Database) -> None:
    """A route FastAPI must answer alone is listed here, with the reason."""
    app = create_app(app_database, start_background=False)
    without = set()
    for included in app.router.routes:
        contexts = getattr(included, "effective_route_contexts", None)
        for context in contexts() if contexts is not None else ():
            if isinstance(context.original_route, FastRoute) and plan_for(context) is None:
                without.add((sorted(context.original_route.methods)[0], context.path))
    # Grants take the token name from the path and a dependency of their own.
    assert without == {
        ("POST", "/v1/registrations/{rid}/grants"),
        ("DELETE", "/v1/registrations/{rid}/grants/{token_name}"),
    }
