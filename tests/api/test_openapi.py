"""The OpenAPI document is a typed contract (issue 15): named schemas, errors, short ids."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from domain.infra.database import Database


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = Path(tmp_path_factory.mktemp("openapi")) / "spec.db"
    app = create_app(Database.from_url(f"sqlite:///{path}"), start_background=False)
    with TestClient(app) as client:
        document: dict[str, Any] = client.get("/openapi.json").json()
    return document


def _resolve(spec: dict[str, Any], schema: dict[str, Any] | None) -> dict[str, Any]:
    while schema and "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema or {}


def _operations(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", op)
        for path, ops in spec["paths"].items()
        if path.startswith("/v1/")
        for method, op in ops.items()
    ]


def test_every_success_response_has_a_named_schema(spec: dict[str, Any]) -> None:
    untyped = []
    for name, op in _operations(spec):
        ok = [code for code in op["responses"] if code.startswith("2")]
        assert ok, name
        for code in ok:
            schema = _resolve(spec, op["responses"][code]["content"]["application/json"]["schema"])
            if not schema.get("properties"):
                untyped.append(f"{name} {code}")
    assert untyped == []


# Answered without a token (nothing to authenticate or forbid, no parameters).
TOKENLESS = {"GET /v1/health", "GET /v1/log/checkpoint", "GET /v1/log/public-key"}


def test_every_error_is_documented_with_the_one_error_body(spec: dict[str, Any]) -> None:
    for name, op in _operations(spec):
        failures = [code for code in op["responses"] if code[0] in "45"]
        assert failures, name
        for code in failures:
            schema = op["responses"][code]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (name, code)
        if name not in TOKENLESS:
            assert {"401", "403", "422", "503"} <= set(failures), name
    body = spec["components"]["schemas"]["ErrorBody"]
    detail = _resolve(spec, body["properties"]["error"])
    assert set(detail["properties"]) == {"code", "message", "details"}
    # FastAPI's own {"detail": [...]} 422 is never advertised: the server does not send it.
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_operation_ids_are_short_and_readable(spec: dict[str, Any]) -> None:
    ids = {name: op["operationId"] for name, op in _operations(spec)}
    assert len(set(ids.values())) == len(ids)
    assert all(len(i) <= 40 and "_v1_" not in i for i in ids.values()), ids
    assert ids["POST /v1/registrations"] == "register"
    assert ids["POST /v1/registrations/{rid}/sessions"] == "start_session"
    assert ids["POST /v1/registrations/{rid}/sessions/{sid}/records"] == "record_batch"
    assert ids["GET /v1/registrations/{rid}/sessions"] == "list_sessions"


def test_both_created_and_repeated_answers_are_documented(spec: dict[str, Any]) -> None:
    for path in (
        "/v1/registrations",
        "/v1/registrations/{rid}/sessions",
        "/v1/registrations/{rid}/sync-requests",
    ):
        responses = spec["paths"][path]["post"]["responses"]
        assert {"200", "201"} <= set(responses), path
        assert responses["200"]["content"] == responses["201"]["content"] or (
            responses["200"]["content"]["application/json"]["schema"]
            == responses["201"]["content"]["application/json"]["schema"]
        )


def test_every_operation_has_a_resource_tag(spec: dict[str, Any]) -> None:
    assert all(op.get("tags") for _, op in _operations(spec))


def test_conflicts_name_their_error_codes(spec: dict[str, Any]) -> None:
    start = spec["paths"]["/v1/registrations/{rid}/sessions"]["post"]["responses"]["409"]
    assert "session_in_progress" in start["description"]
    example = start["content"]["application/json"]["example"]
    assert example["error"]["code"] == "session_in_progress"
