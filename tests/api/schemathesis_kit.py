"""Shared by tests/api/test_schemathesis.py: the app to fuzz, the response checks, and the
stateful chains, which run in a child process (`python -m tests.api.schemathesis_kit URL`).

Why a child process: when hypothesis cannot replay a chain (the server's answers depend on
timing), its reporting path can leave CPython 3.11.7's AST depth counter broken for the rest
of the process (gh-106905: every later `ast.parse` fails, pytest's own included). A child
per run keeps that away from the test session; the child prints its counts as JSON.
"""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any
from uuid import uuid4

import orjson
from fastapi import FastAPI
from fastapi.testclient import TestClient
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from domain.infra.database import Database

CONFORMANCE = [
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


class Fuzzed:
    """The app under fuzzing with a support token; counts requests and 5xx per mode."""

    def __init__(self, app: FastAPI, token: str, backend: str) -> None:
        self.app, self.token, self.backend = app, token, backend
        self.counts: Counter[str] = Counter()

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def seed(self, client: TestClient) -> None:
        """Something real to find, so not every generated id is a 404."""
        headers = self.headers()
        reg = client.post(
            "/v1/registrations", headers=headers, json={"product": "p", "file_id": "f"}
        )
        rid = reg.json()["id"]
        client.post(f"/v1/registrations/{rid}/sessions", headers=headers, json={"sync_type": "t"})

    def check(self, mode: str, case: Any, response: Any) -> None:
        """No 5xx but the documented one, the error body, and schema conformance."""
        self.counts[f"{mode} requests"] += 1
        status = response.status_code
        if status >= 400:
            body = response.json()
            assert set(body) == {"error"}, body
            assert set(body["error"]) == {"code", "message", "details"}, body
            if status == 503:  # documented: min_position not reached (yet)
                assert body["error"]["code"] == "projection_lagging", body
            elif status >= 500:
                self.counts[f"{mode} 5xx"] += 1
                raise AssertionError((case.method, case.formatted_path, response.text))
        case.validate_response(response, checks=CONFORMANCE)


def run_chains(url: str) -> dict[str, Any]:
    """One stateful run along the links schemathesis infers; its counts and failures."""
    import schemathesis
    from hypothesis import HealthCheck, settings
    from hypothesis.errors import FlakyStrategyDefinition

    database = Database.from_url(url)
    app = create_app(database)
    fuzzed = Fuzzed(
        app, app.state.services.tokens.create(f"chains-{uuid4().hex[:8]}", "support"), database.kind
    )
    failures: list[str] = []
    ended = "done"
    with TestClient(app) as client:
        fuzzed.seed(client)
        machine = schemathesis.openapi.from_asgi("/openapi.json", app).as_state_machine()

        class Chains(machine):  # type: ignore[misc, valid-type]
            def get_call_kwargs(self, case: Any) -> dict[str, Any]:
                return {"headers": fuzzed.headers()}

            def validate_response(self, response: Any, case: Any, *a: Any, **kw: Any) -> None:
                try:
                    fuzzed.check("stateful", case, response)
                except Exception as e:
                    failures.append(f"{case.method} {case.formatted_path}: {e}"[:2000])
                    raise
                # The next step reads what this one wrote: a chain replayed gets the same
                # answers (hypothesis needs that), not a 404 that depends on timing.
                services = app.state.services
                services.read_models.wait_for(services.ledger.current_position(), 10)

        try:
            Chains.run(
                settings=settings(
                    max_examples=60,
                    stateful_step_count=8,
                    database=None,
                    deadline=None,
                    suppress_health_check=list(HealthCheck),
                )
            )
        except FlakyStrategyDefinition:
            ended = "replay differed (timing): run ended early"
        except Exception as e:  # noqa: BLE001 - reported to the parent, which fails the test
            ended = f"failed: {type(e).__name__}"
    return {
        "links": len(machine.bundles),
        "requests": fuzzed.counts["stateful requests"],
        "5xx": fuzzed.counts["stateful 5xx"],
        "failures": failures,
        "ended": ended,
    }


if __name__ == "__main__":
    sys.stdout.write(orjson.dumps(run_chains(sys.argv[1])).decode() + "\n")
