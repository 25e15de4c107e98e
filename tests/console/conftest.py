"""Fixtures of the console tests: the real app (api.app.create_app) on both backends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from console_kit import Console, clock_ahead, make_tokens, seed
from fastapi.testclient import TestClient

from domain.infra.database import Database


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
