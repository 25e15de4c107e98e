"""Console sign-in sessions (issue 11, finding 3): the cookie holds a random session id, never
the API token, so it is no bearer token on /v1 and signing out really ends it.

The server keeps the id's SHA-256 hash only (a copy of the table gives no one a session),
with the hash of the token it was opened with and when it was opened and last used. A session
ends on sign-out, after `console_session_idle_minutes` without a request, after
`console_session_max_hours` in all (Settings), and when its token is revoked (`TokenStore.
revoke` ends it; a lookup also finds nothing once the token is revoked or created again).
Time comes from the service's clock, which tests replace.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from api.auth import TokenStore, hash_token
from api.settings import Settings

# last_seen_at is written at most this often per session (a page view is not a write).
TOUCH_EVERY = timedelta(seconds=30)


@dataclass(frozen=True)
class SignedIn:
    name: str
    role: str


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()


class ConsoleSessions:
    def __init__(
        self, tokens: TokenStore, clock: Callable[[], datetime], settings: Settings
    ) -> None:
        self.tokens = tokens
        self.clock = clock
        self.idle = timedelta(minutes=settings.console_session_idle_minutes)
        self.lifetime = timedelta(hours=settings.console_session_max_hours)

    def open(self, token: str) -> str:
        """A new session for a token the caller has verified; returns its id (the cookie)."""
        session_id = secrets.token_urlsafe(32)
        now = _micros(self.clock())
        self.tokens.write(
            "DELETE FROM {sessions} WHERE created_at < {p} OR ended_at IS NOT NULL",
            (now - int(self.lifetime.total_seconds() * 1_000_000),),
        )
        self.tokens.write(
            "INSERT INTO {sessions} (id_hash, token_hash, created_at, last_seen_at) "
            "VALUES ({p}, {p}, {p}, {p})",
            (session_hash(session_id), hash_token(token), now, now),
        )
        return session_id

    def resolve(self, session_id: str) -> SignedIn | None:
        """Who the session belongs to, or None (unknown, ended, expired, token revoked)."""
        if not session_id or len(session_id) > 100:
            return None
        digest = session_hash(session_id)
        rows = self.tokens.execute(
            "SELECT t.name, t.role, s.created_at, s.last_seen_at FROM {sessions} s "
            "JOIN {table} t ON t.token_hash = s.token_hash AND t.revoked_at IS NULL "
            "WHERE s.id_hash = {p} AND s.ended_at IS NULL",
            (digest,),
        )
        if not rows:
            return None
        name, role, created_at, last_seen_at = rows[0]
        now = self.clock()
        micros = _micros(now)
        idle_for = timedelta(microseconds=micros - int(last_seen_at))
        age = timedelta(microseconds=micros - int(created_at))
        if idle_for > self.idle or age > self.lifetime:
            self._end(digest, micros)
            return None
        if idle_for >= TOUCH_EVERY:
            self.tokens.write(
                "UPDATE {sessions} SET last_seen_at = {p} WHERE id_hash = {p}", (micros, digest)
            )
        return SignedIn(str(name), str(role))

    def end(self, session_id: str) -> None:
        """Sign-out: the session stops working at once, wherever its cookie is."""
        self._end(session_hash(session_id), _micros(self.clock()))

    def _end(self, digest: str, micros: int) -> None:
        self.tokens.write(
            "UPDATE {sessions} SET ended_at = {p} WHERE id_hash = {p} AND ended_at IS NULL",
            (micros, digest),
        )
