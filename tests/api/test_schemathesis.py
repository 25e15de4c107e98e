"""Fuzz the app with its own OpenAPI schema on both backends (issue 11): no generated input
may cause a 5xx, and every answer conforms to the schema (status code, content type,
headers, body).

- Stateless: each operation alone, with generated parameters and bodies.
- Stateful: chains of operations along the links schemathesis infers from the schema (a
  registration's id into its sessions, a session's id into its records, an approval's id
  into approve/reject, ...), so the fuzzing reaches past the 404s of made-up ids. They run in
  child processes (see tests/api/schemathesis_kit.py for why).

Only the documented 503 (`projection_lagging`: a made-up `min_position`) is allowed.
`pytest -s` prints the counts (requests, 5xx) per backend.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from api.app import create_app
from domain.infra.database import Database
from tests.api.schemathesis_kit import Fuzzed

ROOT = Path(__file__).parents[2]


@pytest.fixture
def fuzzed(database: Database) -> Iterator[Fuzzed]:
    app = create_app(database)
    fuzzed = Fuzzed(app, app.state.services.tokens.create("fuzzer", "support"), database.kind)
    with TestClient(app) as client:
        fuzzed.seed(client)
        yield fuzzed
    print(f"\nschemathesis {database.kind}: {dict(sorted(fuzzed.counts.items()))}")


def test_each_operation_answers_no_server_errors(fuzzed: Fuzzed) -> None:
    api_schema = schemathesis.openapi.from_asgi("/openapi.json", fuzzed.app)
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 40
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
        def each(case: Any) -> None:
            fuzzed.check("stateless", case, case.call(headers=fuzzed.headers()))

        each()
    assert fuzzed.counts["stateless 5xx"] == 0


def test_stateful_chains_answer_no_server_errors(database: Database) -> None:
    runs: list[dict[str, Any]] = []
    while sum(r["requests"] for r in runs) < 400 and len(runs) < 6:
        done = subprocess.run(
            [sys.executable, "-m", "tests.api.schemathesis_kit", database.url],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        runs.append(orjson.loads(done.stdout.strip().splitlines()[-1]))
        assert runs[-1]["failures"] == [], runs[-1]
        assert not runs[-1]["ended"].startswith("failed"), runs[-1]
    assert runs[0]["links"] >= 10, "schemathesis found no links between the operations"
    requests = sum(r["requests"] for r in runs)
    fives = sum(r["5xx"] for r in runs)
    print(f"\nschemathesis {database.kind} stateful: {requests} requests, {fives} 5xx")
    assert fives == 0 and requests >= 300
