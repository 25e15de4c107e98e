"""Console sessions (issue 11, finding 3): the cookie holds a random session id, stored only
hashed; it is no bearer token on /v1; sign-out, idle time, the absolute lifetime and revoking
the token end it. Both backends; time from the service's clock (no sleeping)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from console_kit import Console, csrf_of

from api.console.auth import SESSION_COOKIE
from api.settings import Settings


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def _signed_in(console: Console, role: str = "support") -> str:
    console.sign_in(role)
    cookie = console.client.cookies.get(SESSION_COOKIE)
    assert cookie
    return str(cookie)


def _reaches_console(console: Console, cookie: str) -> bool:
    console.client.cookies.clear()
    console.client.cookies.set(SESSION_COOKIE, cookie, path="/console")
    r = console.client.get("/console/registrations", follow_redirects=False)
    assert r.status_code in (200, 303), r.text
    return r.status_code == 200


def _rows(console: Console) -> list[tuple[object, ...]]:
    return console.services.tokens.execute(
        "SELECT id_hash, token_hash, created_at, last_seen_at, ended_at FROM {sessions}"
    )


def test_the_cookie_is_a_session_id_not_the_token(console: Console) -> None:
    cookie = _signed_in(console)
    token = console.tokens["support"]
    assert cookie != token and token not in cookie and len(cookie) >= 40
    # no bearer token: the console's cookie gets nothing from the API
    r = console.client.get("/v1/registrations", headers={"Authorization": f"Bearer {cookie}"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
    # stored hashed (SHA-256), never as it is
    rows = _rows(console)
    assert [row[0] for row in rows] == [hashlib.sha256(cookie.encode()).hexdigest()]
    assert all(cookie not in str(value) for row in rows for value in row)
    # two sign-ins, two sessions
    other = _signed_in(console)
    assert other != cookie and _reaches_console(console, cookie)


def test_sign_out_ends_the_session_on_the_server(console: Console) -> None:
    cookie = _signed_in(console)
    page = console.client.get("/console/registrations")
    r = console.client.post(
        "/console/sign-out", data={"csrf": csrf_of(page.text)}, follow_redirects=False
    )
    assert r.status_code == 303
    # the cookie kept from before sign-out (a copy, another tab, a stolen one) is dead
    assert not _reaches_console(console, cookie)


def test_idle_and_absolute_expiry(console: Console) -> None:
    clock = FakeClock()
    console.services.clock = clock
    settings = Settings()
    idle = timedelta(minutes=settings.console_session_idle_minutes)
    lifetime = timedelta(hours=settings.console_session_max_hours)

    cookie = _signed_in(console)
    clock.advance(seconds=idle.total_seconds() + 1)
    assert not _reaches_console(console, cookie)

    # kept alive by use, until the absolute lifetime runs out
    cookie = _signed_in(console)
    step = idle * 0.9
    used = timedelta()
    while used + step < lifetime:
        clock.advance(seconds=step.total_seconds())
        used += step
        assert _reaches_console(console, cookie), f"ended after {used}"
    clock.advance(seconds=(lifetime - used).total_seconds() + 1)
    assert not _reaches_console(console, cookie)


def test_revoking_the_token_ends_its_sessions(console: Console) -> None:
    cookie = _signed_in(console)
    assert console.services.tokens.revoke("sam.support")
    assert not _reaches_console(console, cookie)
    assert all(row[4] is not None for row in _rows(console))  # ended, on the record
    # a token created again under the same name does not bring the old session back
    console.services.tokens.create("sam.support", "support")
    assert not _reaches_console(console, cookie)


def test_a_token_in_the_cookie_is_no_session(console: Console) -> None:
    """Cookies from before sessions existed (the token itself) sign nobody in."""
    assert not _reaches_console(console, console.tokens["support"])
