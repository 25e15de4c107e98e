"""Browser plumbing shared by the console's Chromium tests (not a test module).

One Chromium per test session (the `browser` fixture in conftest.py), real servers (the app
of api.app.create_app under uvicorn, on a free port, with a fresh SQLite file), screenshots
in test-output/console/, and axe-core (the copy the axe-playwright-python package ships, read
from disk: nothing is fetched at test time) run on every page a flow visits.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from console_kit import Clock, Seeded, clock_ahead, make_tokens, seed

from domain.infra.database import Database

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REQUIRE = os.environ.get("SYNCLEDGER_REQUIRE_BROWSER") == "1"
SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "console"
FULL_SYNC_WORDING = (
    "All data/team security from on-premise to the cloud will resynchronise for Making Tax "
    "Digital and Open Integration"
)


def missing() -> str | None:
    if not os.access(CHROMIUM, os.X_OK):
        return "chromium not installed: apt-get install chromium"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright not installed: pip install -e '.[test]'"
    return None


def skip_or_fail() -> None:
    why = missing()
    if why:
        if REQUIRE:
            pytest.fail(f"SYNCLEDGER_REQUIRE_BROWSER=1 but {why}")
        pytest.skip(why)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(
        self, url: str, services: Any, seeded: Seeded, tokens: dict[str, str], clock: Clock
    ):
        self.clock = clock
        self.url = url
        self.services = services
        self.seeded = seeded
        self.tokens = tokens


@contextmanager
def serve(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """The real app under uvicorn on a free port, with the seeded history and tokens."""
    skip_or_fail()
    import uvicorn

    from api.app import create_app

    clock = clock_ahead(monkeypatch)
    app = create_app(Database.from_url(f"sqlite:///{db_path}"))
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    services = app.state.services
    seeded = seed(services.ledger)
    tokens = make_tokens(services)
    # The agent's own registration (worker tokens read and write only what they hold).
    services.tokens.claim("acme-pc01", str(seeded.accountlink))
    assert services.read_models.wait_for(services.ledger.current_position(), 10)
    try:
        yield Server(f"http://127.0.0.1:{port}", services, seeded, tokens, clock)
    finally:
        uv.should_exit = True
        thread.join(15)


@contextmanager
def open_page(browser: Any, **options: Any) -> Iterator[Any]:
    """A fresh browser context and page; fails the test on a script error or on any request
    that leaves the machine."""
    settings = {"viewport": {"width": 1360, "height": 900}, "timezone_id": "Europe/Berlin"}
    context = browser.new_context(**{**settings, **options})
    context.set_default_timeout(10_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    # A page answered 404 or 422 is a tested answer (its status is checked where it matters);
    # a stylesheet, script or fetch that fails is an error.
    pg.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    pg.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and r.request.resource_type != "document" and not _dialog_page(r)
            else None
        ),
    )
    outside: list[str] = []
    pg.on(
        "request",
        lambda r: outside.append(r.url) if not r.url.startswith("http://127.0.0.1:") else None,
    )
    try:
        yield pg
    finally:
        context.close()
    assert not errors, f"browser errors: {errors}"
    assert not outside, f"the console loaded something from outside the machine: {outside}"


def _dialog_page(response: Any) -> bool:
    """A confirmation page fetched into the dialog (it may answer 4xx with a page)."""
    return bool(response.request.headers.get("x-console-dialog") == "1")


def _axe_source() -> str:
    """axe-core as the axe-playwright-python package ships it (installed from PyPI with the
    test dependencies); read from disk, never fetched."""
    import axe_playwright_python

    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()


AXE_SOURCE: list[str] = []


def axe_check(pg: Any, what: str) -> list[dict[str, Any]]:
    """Run axe-core on the page as it is; fail on any serious or critical violation.
    Injected through the DevTools protocol (page.evaluate), so the console's own CSP, which
    allows no inline script, stays as it is. Returns the minor/moderate ones."""
    if not AXE_SOURCE:
        AXE_SOURCE.append(_axe_source())
    if not pg.evaluate("() => typeof window.axe !== 'undefined'"):
        pg.evaluate(AXE_SOURCE[0] + "\n;undefined")
    results = pg.evaluate(
        "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
        " return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))})); }"
    )
    bad = [v for v in results if v["impact"] in ("serious", "critical")]
    assert not bad, f"axe on {what}: " + json.dumps(bad, indent=1)
    return list(results)


def shot(pg: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(pg: Any, server: Server, role: str) -> None:
    pg.goto(f"{server.url}/console/")
    assert "/console/sign-in" in pg.url
    pg.fill("#token", server.tokens[role])
    pg.click("main button[type=submit]")
    pg.wait_for_url(re.compile(r".*/console/registrations$"))


def phone_pages(pg: Any, server: Server, paths: dict[str, str]) -> None:
    """Each page at the phone's width: nothing wider than the screen, axe clean, a shot."""
    width_px = pg.viewport_size["width"]
    for name, path in paths.items():
        pg.goto(server.url + path)
        width = pg.evaluate("document.documentElement.scrollWidth")
        assert width <= width_px, (path, width)
        axe_check(pg, f"{path} at {width_px} px")
        shot(pg, name)
