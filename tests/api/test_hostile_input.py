"""Issue 11, findings 4 and 6: what a hostile client sends is a 4xx with the error body,
never a 500, and records nothing."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from api.errors import MAX_BODY_BYTES
from tests.api.conftest import Api, assert_error

REC = {"entity_type": "Customers", "key": "C-1", "digest": "d1"}


def _position(api: Api) -> int:
    return int(api.client.app.state.services.ledger.current_position())  # type: ignore[attr-defined]


def _send(api: Api, path: str, body: Any, content_type: str | None = "application/json") -> Any:
    """A POST of raw bytes (or a stream) with the worker's token and this Content-Type."""
    headers = api.headers("worker")
    if content_type is not None:
        headers["content-type"] = content_type
    return api.client.post(path, content=body, headers=headers)


def _cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


# Shapes a client can make up: huge integers, floats, nested arrays, objects, booleans,
# NUL and lone surrogates, too many or too few items, not base64, not JSON.
BAD_CURSORS = [
    _cursor([10**30]),
    _cursor([2**63]),
    _cursor([-1]),
    _cursor([1.5]),
    _cursor([[1]]),
    _cursor([{"a": 1}]),
    _cursor([True]),
    _cursor([None]),
    _cursor([10**30, "a"]),
    _cursor([1.5, "a"]),
    _cursor([[1], [2]]),
    _cursor([{}, {}]),
    _cursor([True, False]),
    _cursor(["a\x00", "b"]),
    _cursor(["\ud800", "b"]),
    _cursor({"a": 1}),
    _cursor(5),
    _cursor([]),
    _cursor([1, 2, 3]),
    "not base64 !",
    base64.urlsafe_b64encode(b"{not json").decode(),
    "é",
]


@pytest.fixture
def history(api: Api) -> dict[str, str]:
    reg = api.register()
    rid = reg["id"]
    sid = api.start(rid)["id"]
    hook = api.post(
        "/v1/webhooks",
        role="support",
        json={"url": "http://127.0.0.1:9/hook", "events": ["session.failed"]},
    )
    assert hook.status_code == 201, hook.text
    return {"rid": rid, "sid": sid, "hook": hook.json()["id"]}


def test_a_made_up_cursor_is_a_validation_error_on_every_list(
    api: Api, history: dict[str, str]
) -> None:
    rid, sid = history["rid"], history["sid"]
    lists = [
        "/v1/registrations",
        f"/v1/registrations/{rid}/sessions",
        f"/v1/registrations/{rid}/sessions/{sid}/records",
        f"/v1/registrations/{rid}/receipts",
        f"/v1/registrations/{rid}/sync-requests",
        "/v1/audit",
        "/v1/approvals",
        "/v1/webhooks",
        f"/v1/webhooks/{history['hook']}/deliveries",
    ]
    before = _position(api)
    for path in lists:
        for cursor in BAD_CURSORS:
            r = api.get(path, role="support", params={"cursor": cursor})
            error = assert_error(r, 422, "validation_error")
            assert error["details"]["field"] == "cursor", (path, cursor)
    assert _position(api) == before


def test_the_events_cursor_beyond_the_last_position_is_a_validation_error(
    api: Api, history: dict[str, str]
) -> None:
    path = f"/v1/registrations/{history['rid']}/events"
    for cursor in (str(2**63), str(2**62 + 1), "9" * 20):
        r = api.get(path, role="support", params={"cursor": cursor})
        assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error", cursor
    assert api.get(path, role="support", params={"cursor": "1"}).status_code == 200


def test_a_good_cursor_still_pages(api: Api) -> None:
    position = max(api.register(file_id=f"f{n}")["position"] for n in range(3))
    first = api.read("/v1/registrations", position, limit=2)
    second = api.get(
        "/v1/registrations",
        params={"limit": 2, "cursor": first["next_cursor"], "min_position": position},
    )
    assert second.status_code == 200 and len(second.json()["items"]) == 1


def test_deeply_nested_bodies_are_validation_errors(api: Api, history: dict[str, str]) -> None:
    rid, sid = history["rid"], history["sid"]
    nested = "[" * 10_000 + "]" * 10_000
    before = _position(api)
    for path, body in (
        (f"/v1/registrations/{rid}/sessions/{sid}/records", '{"records": ' + nested + "}"),
        ("/v1/registrations", '{"product": ' + nested + "}"),
        (f"/v1/registrations/{rid}/sessions/{sid}/errors", nested),
    ):
        assert_error(_send(api, path, body), 422, "validation_error")
    assert _position(api) == before


def test_invalid_json_is_a_validation_error(api: Api, history: dict[str, str]) -> None:
    rid, sid = history["rid"], history["sid"]
    before = _position(api)
    for path in ("/v1/registrations", f"/v1/registrations/{rid}/sessions/{sid}/records"):
        for body in ('{"product": ', "{'a': 1}", "\xff"):
            assert_error(_send(api, path, body.encode("latin-1")), 422, "validation_error")
    assert _position(api) == before


def test_unknown_body_fields_are_refused_by_name(api: Api, history: dict[str, str]) -> None:
    rid, sid = history["rid"], history["sid"]
    before = _position(api)
    cases = [
        ("/v1/registrations", {"product": "p", "file_id": "typo", "wokrer": "x"}, "wokrer"),
        (f"/v1/registrations/{rid}/sessions", {"sync_type": "time", "kind": "x"}, "kind"),
        (f"/v1/registrations/{rid}/sessions/{sid}/records", {"records": [REC], "x": 1}, "x"),
        (f"/v1/registrations/{rid}/sessions/{sid}/complete", {"status": "done"}, "status"),
    ]
    for path, body, field in cases:
        error = assert_error(api.post(path, json=body), 422, "validation_error")
        assert error["details"]["field"] == field and field in error["message"]
    assert _position(api) == before


def test_a_body_over_16_mib_is_refused(api: Api, history: dict[str, str]) -> None:
    rid, sid = history["rid"], history["sid"]
    path = f"/v1/registrations/{rid}/sessions/{sid}/records"
    before = _position(api)
    sent = {"bytes": 0}

    def stream() -> Iterator[bytes]:  # chunked: no Content-Length, counted as it streams
        chunk = b" " * (1024 * 1024)
        for _ in range(40):
            sent["bytes"] += len(chunk)
            yield chunk

    error = assert_error(_send(api, path, stream()), 413, "payload_too_large")
    assert error["details"]["max_bytes"] == MAX_BODY_BYTES
    assert _position(api) == before


def test_a_large_content_length_is_refused_before_the_body_is_read(api: Api) -> None:
    """Straight to the ASGI app: the 413 comes before a single receive() of the body."""
    app = api.client.app
    received: list[Any] = []
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/registrations",
        "raw_path": b"/v1/registrations",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", str(50 * 1024 * 1024).encode()),
            (b"authorization", api.headers("worker")["Authorization"].encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
        "state": {},
    }

    async def receive() -> dict[str, Any]:
        received.append(1)
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))  # type: ignore[operator]
    assert received == []
    assert sent[0]["status"] == 413
    body = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
    assert body["error"]["code"] == "payload_too_large"


# --- finding 6 ---------------------------------------------------------------------------


def test_records_require_json_like_every_endpoint(api: Api, history: dict[str, str]) -> None:
    rid, sid = history["rid"], history["sid"]
    body = json.dumps({"records": [REC]})
    before = _position(api)
    for path in (f"/v1/registrations/{rid}/sessions/{sid}/records", "/v1/registrations"):
        for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
            r = _send(api, path, body, content_type)
            assert assert_error(r, 422, "validation_error")["details"]["field"] == "Content-Type"
    assert _position(api) == before
    path = f"/v1/registrations/{rid}/sessions/{sid}/records"
    ok = _send(api, path, body, "application/json; charset=utf-8")
    assert ok.status_code == 200, ok.text


@pytest.mark.parametrize(
    "value", ["", "bad id", "x" * 129, "a\tb", "é", "<script>", "a;b", "a\x7fb"]
)
def test_a_bad_correlation_id_is_refused(api: Api, value: str) -> None:
    before = _position(api)
    r = api.client.post(
        "/v1/registrations",
        json={"product": "p", "file_id": "f"},
        headers={**api.headers("worker"), "X-Correlation-ID": value.encode()},
    )
    assert assert_error(r, 422, "validation_error")["details"]["field"] == "X-Correlation-ID"
    assert _position(api) == before


def test_a_good_correlation_id_is_kept(api: Api) -> None:
    r = api.client.get(
        "/v1/registrations", headers={**api.headers("worker"), "X-Correlation-ID": "req-1.a:b/c"}
    )
    assert r.status_code == 200 and r.headers["x-correlation-id"] == "req-1.a:b/c"


@pytest.mark.parametrize("field", ["entity_type", "key", "digest"])
@pytest.mark.parametrize("blank", [" ", "\t\n", "\u3000"])
def test_whitespace_only_record_fields_are_refused(
    api: Api, history: dict[str, str], field: str, blank: str
) -> None:
    rid, sid = history["rid"], history["sid"]
    before = _position(api)
    path = f"/v1/registrations/{rid}/sessions/{sid}/records"
    r = api.post(path, json={"records": [{**REC, field: blank}]})
    assert assert_error(r, 422, "validation_error")["details"]["field"] == f"records[0].{field}"
    errors = f"/v1/registrations/{rid}/sessions/{sid}/errors"
    if field != "digest":
        r = api.post(errors, json={"message": "m", field: blank})
        assert_error(r, 422, "validation_error")
    assert _position(api) == before


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/audit", {"actor": "\x00"}),
        ("/v1/audit", {"actor": "sam\x00", "after": 5}),
        ("/v1/registrations", {"q": "acme\x00"}),
        ("/v1/registrations", {"product": "p\x00"}),
    ],
)
def test_a_nul_in_a_text_filter_is_refused(api: Api, path: str, params: dict[str, Any]) -> None:
    """Found by schemathesis: `GET /v1/audit?actor=%00` was a 500 on PostgreSQL (text
    parameters cannot hold NUL there). A filter is text like any other (rule 12): 422."""
    r = api.get(path, role="auditor", params=params)
    assert_error(r, 422, "validation_error")
