"""Fixtures: the app on each backend with one token per role, and a small client helper."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from domain.infra.database import Database

ROLES = ("worker", "support", "auditor")


class Api:
    """TestClient calls as a role: `api.post(path, json=..., role="support")`."""

    def __init__(self, client: TestClient, tokens: dict[str, str]) -> None:
        self.client = client
        self.tokens = tokens

    def headers(self, role: str | None) -> dict[str, str]:
        if role is None:
            return {}
        return {"Authorization": f"Bearer {self.tokens.get(role, role)}"}

    def get(self, path: str, role: str | None = "worker", **kw: Any) -> Any:
        return self.client.get(path, headers=self.headers(role), **kw)

    def post(self, path: str, role: str | None = "worker", **kw: Any) -> Any:
        return self.client.post(path, headers=self.headers(role), **kw)

    # --- shortcuts ----------------------------------------------------------------------

    def register(
        self, product: str = "accountlink-quickbooks", file_id: str = "acme.qbw", **extra: Any
    ) -> dict[str, Any]:
        r = self.post("/v1/registrations", json={"product": product, "file_id": file_id, **extra})
        assert r.status_code in (200, 201), r.text
        return r.json()  # type: ignore[no-any-return]

    def start(self, rid: str, sync_type: str = "time", **extra: Any) -> dict[str, Any]:
        r = self.post(f"/v1/registrations/{rid}/sessions", json={"sync_type": sync_type, **extra})
        assert r.status_code in (200, 201), r.text
        return r.json()  # type: ignore[no-any-return]

    def records(
        self, rid: str, sid: str, records: list[tuple[str, str, str]], **extra: Any
    ) -> dict[str, Any]:
        body = {"records": [{"entity_type": e, "key": k, "digest": d} for e, k, d in records]}
        r = self.post(f"/v1/registrations/{rid}/sessions/{sid}/records", json={**body, **extra})
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    def complete(self, rid: str, sid: str) -> dict[str, Any]:
        r = self.post(f"/v1/registrations/{rid}/sessions/{sid}/complete", json={})
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    def read(self, path: str, position: int, role: str = "worker", **params: Any) -> Any:
        """A projection read that waits for `position` (read-your-writes)."""
        r = self.get(path, role=role, params={"min_position": position, **params})
        assert r.status_code == 200, r.text
        return r.json()


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], dict)
    return error  # type: ignore[no-any-return]


@pytest.fixture
def app_database(database: Database) -> Database:
    return database


@pytest.fixture
def api(app_database: Database) -> Iterator[Api]:
    app = create_app(app_database)
    services = app.state.services
    tokens = {role: services.tokens.create(f"{role}-token", role) for role in ROLES}
    with TestClient(app) as client:
        yield Api(client, tokens)
