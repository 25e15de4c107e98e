"""Issue 11, finding 1 (rule 12): text at every field's limits, in characters and in UTF-8
bytes (four-byte characters, NUL, lone surrogates, whitespace alone), is either refused with
422 and records nothing, or stored, indexed and projected on both backends: the views keep
up (a read with min_position answers 200 with the very value) and a rebuild succeeds."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.values import (
    MAX_DIGEST_LENGTH,
    MAX_ENTITY_TYPE_LENGTH,
    MAX_FILE_ID_LENGTH,
    MAX_KEY_LENGTH,
    MAX_NAME_LENGTH,
    MAX_TEXT_LENGTH,
    TextLimit,
)
from replay.rebuild import rebuild
from tests.api.conftest import Api

FOUR_BYTES = 0x10000  # the first character UTF-8 writes in four bytes


def _acceptable(value: str, limit: TextLimit) -> bool:
    """The test's own oracle for rule 12 (not the code under test)."""
    if not value.strip() or "\x00" in value or len(value) > limit:
        return False
    if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        return False
    return len(value.encode("utf-8")) <= limit.bytes


@st.composite
def at_limits(draw: st.DrawFn, limit: TextLimit) -> str:
    """A value at or just past a limit: in characters, or in bytes with four-byte (or other
    wide) characters that do not compress, with at most one hostile character mixed in."""
    width = draw(st.sampled_from([1, 2, 3, 4]))
    base = {1: 0x41, 2: 0x100, 3: 0x4E00, 4: FOUR_BYTES}[width]
    span = {1: 26, 2: 0x500, 3: 0x5000, 4: 0xFFFF}[width]
    edge = draw(st.sampled_from([int(limit), limit.bytes // width]))
    size = max(1, min(edge + draw(st.integers(-1, 1)), int(limit) + 1))
    seed = draw(st.integers(0, 2**16))
    chars = [chr(base + (seed + i * 7919) % span) for i in range(size)]
    hostile = draw(st.sampled_from([None, None, "\x00", "\ud800", "\udfff", " ", "\t"]))
    if hostile is not None:
        chars[draw(st.integers(0, size - 1))] = hostile
    if draw(st.booleans()) and draw(st.booleans()):
        return draw(st.sampled_from([" ", " " * int(limit), "\u3000\n", "\t"]))
    return "".join(chars)


def _position(api: Api) -> int:
    return int(api.client.app.state.services.ledger.current_position())  # type: ignore[attr-defined]


def _post(api: Api, path: str, body: dict[str, Any], role: str = "support") -> Any:
    """JSON with \\u escapes (a lone surrogate travels as JSON allows it)."""
    headers = {**api.headers(role), "content-type": "application/json"}
    return api.client.post(path, content=json.dumps(body).encode(), headers=headers)


def _read(api: Api, path: str, position: int, **params: Any) -> Any:
    r = api.get(path, role="support", params={"min_position": position, "wait_s": 20, **params})
    assert r.status_code == 200, r.text  # the views kept up: nothing stalled them
    return r.json()


def _registration(api: Api, field: str, value: str) -> tuple[Any, Callable[[Any], None], int]:
    body = {"product": "p", "file_id": f"f-{uuid4()}", "name": "n", field: value}
    before = _position(api)
    r = _post(api, "/v1/registrations", body)

    def check(done: Any) -> None:
        rid, position = done["id"], done["position"]
        assert _read(api, f"/v1/registrations/{rid}", position)[field] == value
        found = _read(api, "/v1/registrations", position, product=body["product"],
                      file_id=body["file_id"])["items"]  # fmt: skip
        assert [item["id"] for item in found] == [rid]

    return r, check, before


def _session(api: Api, field: str, value: str) -> tuple[Any, Callable[[Any], None], int]:
    rid = api.register(file_id=f"s-{uuid4()}")["id"]
    sent = [value] if field == "entity_types" else value
    body = {"sync_type": "time", "worker": "w", field: sent}
    before = _position(api)
    r = _post(api, f"/v1/registrations/{rid}/sessions", body)

    def check(done: Any) -> None:
        got = _read(api, f"/v1/registrations/{rid}/sessions/{done['id']}", done["position"])
        assert got[field] == sent

    return r, check, before


def _record(api: Api, field: str, value: str) -> tuple[Any, Callable[[Any], None], int]:
    rid = api.register(file_id=f"r-{uuid4()}")["id"]
    sid = api.start(rid)["id"]
    record = {"entity_type": "E", "key": "k", "digest": "d"}
    body: dict[str, Any] = {"records": [record]}
    if field == "batch_id":
        body["batch_id"] = value
    else:
        record[field] = value
    before = _position(api)
    r = _post(api, f"/v1/registrations/{rid}/sessions/{sid}/records", body)

    def check(done: Any) -> None:
        position = done["position"]
        receipts = _read(api, f"/v1/registrations/{rid}/receipts", position,
                         entity_type=record["entity_type"], key=record["key"])["items"]  # fmt: skip
        assert [(x["entity_type"], x["key"], x["digest"]) for x in receipts] == [
            (record["entity_type"], record["key"], record["digest"])
        ]
        synced = _read(api, f"/v1/registrations/{rid}/sessions/{sid}/records", position)
        assert [x["key"] for x in synced["items"]] == [record["key"]]

    return r, check, before


def _error(api: Api, field: str, value: str) -> tuple[Any, Callable[[Any], None], int]:
    rid = api.register(file_id=f"e-{uuid4()}")["id"]
    sid = api.start(rid)["id"]
    body = {"message": "m", field: value}
    before = _position(api)
    r = _post(api, f"/v1/registrations/{rid}/sessions/{sid}/errors", body)

    def check(done: Any) -> None:
        got = _read(api, f"/v1/registrations/{rid}/sessions/{sid}", done["position"])
        assert [e[field] for e in got["errors"]] == [value]

    return r, check, before


@dataclass(frozen=True)
class Field:
    name: str
    limit: TextLimit
    send: Callable[[Api, str, str], tuple[Any, Callable[[Any], None], int]]


FIELDS = [
    Field("product", MAX_NAME_LENGTH, _registration),
    Field("file_id", MAX_FILE_ID_LENGTH, _registration),
    Field("name", MAX_NAME_LENGTH, _registration),
    Field("sync_type", MAX_ENTITY_TYPE_LENGTH, _session),
    Field("worker", MAX_NAME_LENGTH, _session),
    Field("entity_types", MAX_ENTITY_TYPE_LENGTH, _session),
    Field("entity_type", MAX_ENTITY_TYPE_LENGTH, _record),
    Field("key", MAX_KEY_LENGTH, _record),
    Field("digest", MAX_DIGEST_LENGTH, _record),
    Field("batch_id", MAX_KEY_LENGTH, _record),
    Field("message", MAX_TEXT_LENGTH, _error),
]


@pytest.mark.parametrize("field", FIELDS, ids=lambda f: f.name)
def test_text_at_its_limits_is_refused_or_stored_indexed_and_projected(
    api: Api, field: Field
) -> None:
    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
    @given(value=at_limits(field.limit))
    def check(value: str) -> None:
        response, projected, before = field.send(api, field.name, value)
        if _acceptable(value, field.limit):
            assert response.status_code in (200, 201), response.text
            projected(response.json())
        else:
            assert response.status_code == 422, response.text
            assert response.json()["error"]["code"] == "validation_error"
            assert _position(api) == before, "a refused request recorded something"

    check()


def test_the_widest_values_fit_every_index_and_survive_a_rebuild(api: Api) -> None:
    """The worst case by hand: every indexed field at its byte limit, in characters that do
    not compress, then a rebuild of every view (issue 11: `replay rebuild` stalled too)."""

    def wide(limit: TextLimit, start: int = FOUR_BYTES) -> str:
        return "".join(chr(start + i * 7919 % 0xFFFF) for i in range(limit.bytes // 4))

    product, file_id = wide(MAX_NAME_LENGTH)[:150], wide(MAX_FILE_ID_LENGTH)
    assert len(product.encode()) == 600 and len(file_id.encode()) == MAX_FILE_ID_LENGTH.bytes
    r = _post(api, "/v1/registrations", {"product": product, "file_id": file_id})
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    started = _post(api, f"/v1/registrations/{rid}/sessions", {"sync_type": "t" * 128})
    sid = started.json()["id"]
    record = {
        "entity_type": wide(MAX_ENTITY_TYPE_LENGTH),
        "key": wide(MAX_KEY_LENGTH, FOUR_BYTES + 5),
        "digest": wide(MAX_DIGEST_LENGTH),
    }
    done = _post(api, f"/v1/registrations/{rid}/sessions/{sid}/records", {"records": [record]})
    assert done.status_code == 200, done.text
    position = done.json()["position"]
    assert (
        _read(api, f"/v1/registrations/{rid}/receipts", position)["items"][0]["key"]
        == (record["key"])
    )
    assert _read(api, "/v1/registrations", position, file_id=file_id)["items"][0]["id"] == rid
    report = rebuild(api.client.app.state.services.database)  # type: ignore[attr-defined]
    assert report is not None
    assert _read(api, f"/v1/registrations/{rid}", position)["file_id"] == file_id


def test_a_file_id_of_2000_four_byte_characters_is_refused_and_views_keep_up(api: Api) -> None:
    """The issue's case: within the character limit, ~8,000 bytes: PostgreSQL's index
    refused the row and every view stopped. Now refused up front; the views keep going."""
    before = _position(api)
    huge = "".join(chr(FOUR_BYTES + i) for i in range(2000))
    r = _post(api, "/v1/registrations", {"product": "p", "file_id": huge})
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "file_id", r.text
    assert "bytes" in r.json()["error"]["message"]
    assert _position(api) == before
    done = api.register(file_id="after")
    assert _read(api, f"/v1/registrations/{done['id']}", done["position"])["file_id"] == "after"
