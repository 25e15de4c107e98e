"""Fixtures of the console tests: the real app (api.app.create_app) on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


# --- Chromium (tests/console/test_console_browser*.py) -----------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole test session (each test opens its own context)."""
    from browser_kit import CHROMIUM, CHROMIUM_ARGS, skip_or_fail

    skip_or_fail()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A server of its own, for a test that changes the seeded history."""
    from browser_kit import serve

    with serve(tmp_path / "console.db", monkeypatch) as running:
        yield running


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One server for a module whose tests change only what they create themselves."""
    from browser_kit import serve

    with pytest.MonkeyPatch.context() as patch:
        path = tmp_path_factory.mktemp("console") / "console.db"
        with serve(path, patch) as running:
            yield running


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    from browser_kit import open_page

    with open_page(browser) as pg:
        yield pg
