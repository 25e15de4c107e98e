"""The records endpoint parses its body by hand (api/batches.py): same answers as pydantic."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api, assert_error

REC = {"entity_type": "T", "key": "k", "digest": "d"}


def _base(api: Api) -> tuple[str, str, str]:
    rid = api.register()["id"]
    sid = api.start(rid)["id"]
    return rid, sid, f"/v1/registrations/{rid}/sessions/{sid}/records"


def _raw(api: Api, path: str, content: bytes, **headers: str) -> Any:
    return api.client.post(path, content=content, headers={**api.headers("worker"), **headers})


def test_refusals_carry_the_pydantic_error_bodies(api: Api) -> None:
    rid, sid, path = _base(api)
    cases: list[tuple[Any, str]] = [
        ({"records": [{**REC, "key": "a\x00b"}]}, "records[0].key"),
        ({"records": [{**REC, "digest": 7}]}, "records[0].digest"),
        ({"records": [{"entity_type": "T", "key": "k"}]}, "records[0].digest"),
        ({"records": ["T,k,d"]}, "records[0]"),
        ({"records": [["T", "k", "d"]]}, "records[0]"),
        ({"records": [REC], "batch_id": ""}, "batch_id"),
        ({"records": [REC], "batch_id": 5}, "batch_id"),
        ({"records": [{**REC, "entity_type": ""}]}, "records[0].entity_type"),
        ({"records": {"0": REC}}, "records"),
        ({}, "records"),
        ([REC], "body"),
    ]
    for body, field in cases:
        error = assert_error(api.post(path, json=body), 422, "validation_error")
        assert error["details"]["field"] == field, (body, error)
    bad_json = assert_error(
        _raw(api, path, b'{"records": [', **{"content-type": "application/json"}),
        422,
        "validation_error",
    )
    assert "not valid JSON" in bad_json["message"]
    surrogate = _raw(
        api,
        path,
        b'{"records": [{"entity_type": "T", "key": "\\ud800", "digest": "d"}]}',
        **{"content-type": "application/json"},
    )
    assert assert_error(surrogate, 422, "validation_error")["details"]["field"] == (
        "records[0].key"
    )
    assert_error(_raw(api, path, b""), 422, "validation_error")
    # nothing was recorded by any refusal above
    one = api.read(f"/v1/registrations/{rid}/sessions/{sid}", api.start(rid, "custom")["position"])
    assert one["records_synced"] == 0


def test_extra_fields_are_refused_and_batch_id_deduplicates(api: Api) -> None:
    rid, sid, path = _base(api)
    body = {"records": [REC, {**REC, "key": "k2"}], "batch_id": "b-1"}
    # A field the batch does not know is refused by name (a typo is never dropped silently).
    extra_record = {**body, "records": [{**REC, "note": "x"}, {**REC, "key": "k2"}]}
    error = assert_error(api.post(path, json=extra_record), 422, "validation_error")
    assert error["details"]["field"] == "records[0].note"
    error = assert_error(api.post(path, json={**body, "comment": "x"}), 422, "validation_error")
    assert error["details"]["field"] == "comment"
    first = api.post(path, json=body)
    assert first.status_code == 200, first.text
    assert first.json()["accepted"] == 2 and first.json()["records_synced"] == 2
    again = api.post(path, json=body).json()
    assert again["accepted"] == 0 and again["duplicates"] == 2
    assert again["position"] >= first.json()["position"]


def test_the_request_body_stays_documented(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    post = schema["paths"]["/v1/registrations/{rid}/sessions/{sid}/records"]["post"]
    ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/BatchIn" and post["requestBody"]["required"] is True
    batch = schema["components"]["schemas"]["BatchIn"]
    assert batch["properties"]["records"]["maxItems"] == 10_000
    assert batch["properties"]["records"]["items"]["$ref"] == "#/components/schemas/RecordIn"
    assert "RecordIn" in schema["components"]["schemas"]
