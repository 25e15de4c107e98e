"""Fixtures of the console tests: the real app (api.app.create_app) on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from console_kit import Seeded, clock_ahead, make_tokens, seed
from fastapi.testclient import TestClient

from domain.storage import Database


@dataclass
class Console:
    client: TestClient
    services: Any
    tokens: dict[str, str]
    seeded: Seeded

    def sign_in(self, role: str) -> None:
        self.client.cookies.clear()
        response = self.client.post(
            "/console/sign-in", data={"token": self.tokens[role]}, follow_redirects=False
        )
        assert response.status_code == 303, response.text

    def settle(self) -> None:
        position = self.services.ledger.current_position()
        assert self.services.read_models.wait_for(position, 10)


@pytest.fixture
def console(database: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Console]:
    from api.app import create_app

    clock_ahead(monkeypatch)
    app = create_app(database)
    with TestClient(app, base_url="http://testserver") as client:
        services = app.state.services
        seeded = seed(services.ledger)
        tokens = make_tokens(services)
        c = Console(client, services, tokens, seeded)
        c.settle()
        yield c
