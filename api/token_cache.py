"""Verified tokens kept in memory on PostgreSQL, forgotten the moment tokens or grants change.

Every request verified its bearer token with a query: on PostgreSQL a round trip and a hop
to a worker thread, more than a small read's own work (issue 16). The API process now keeps
what it verified - token hash -> principal, and (worker token, registration) pairs it holds
- and answers from memory without leaving the event loop.

A revocation still takes effect at once, in every process: triggers on `api_tokens` (any
update or delete: revoke, rotate) and on `api_token_registrations` (any delete: a grant
taken back) `pg_notify` a channel of the schema, and a thread LISTENing on it empties the
cache. Only positive answers are kept, so rows added (a new token, a claim, a grant) need
no notice: their first use queries. The cache answers only while that thread is listening
(a dropped connection empties it and queries resume until it listens again), and an answer
read before a change is not stored after it (a generation counter), so a stale entry
cannot outlive the notice.

SQLite has no notifications; its lookup is a local call on the event loop's own thread,
cheaper than the bookkeeping, so the cache is PostgreSQL's only.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

import psycopg

from domain.infra.pgpool import CONNECT_TIMEOUT_S

if TYPE_CHECKING:
    from api.auth import Principal

log = logging.getLogger("syncledger.tokens")
RECONNECT_SECONDS = 1.0
MAX_ENTRIES = 10_000


def channel_for(schema: str) -> str:
    """The notification channel of one schema (notifications are database-wide)."""
    return f"syncledger_tokens_{schema}"[:63]


def trigger_statements(schema: str, tokens: str, held: str) -> tuple[str, ...]:
    """The trigger function and the two triggers that announce a change (idempotent)."""
    function = f'"{schema}".syncledger_tokens_changed'
    channel = channel_for(schema).replace("'", "''")
    return (
        f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN PERFORM pg_notify('{channel}', ''); RETURN NULL; END $$",
        f"CREATE OR REPLACE TRIGGER syncledger_tokens_changed AFTER UPDATE OR DELETE "
        f"ON {tokens} FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE OR REPLACE TRIGGER syncledger_holdings_changed AFTER UPDATE OR DELETE "
        f"ON {held} FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
    )


class TokenCache:
    """Positive verifications, valid while a LISTEN connection watches for changes."""

    def __init__(self, conninfo: str, schema: str) -> None:
        self._conninfo = conninfo
        self._channel = channel_for(schema)
        self._lock = threading.Condition()
        self._principals: dict[str, Principal] = {}
        self._holdings: set[tuple[str, str]] = set()
        self._generation = 0
        self._listening = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="token-cache", daemon=True)
        self._thread.start()

    # --- lookups ------------------------------------------------------------------------

    def get(self, token_hash: str, rid: str | None) -> tuple[Principal, bool] | None:
        """The cached answer, or None when it must be asked of the database."""
        with self._lock:
            if not self._listening:
                return None
            principal = self._principals.get(token_hash)
            if principal is None:
                return None
            if rid is None or principal.role != "worker":
                # Holdings matter to worker tokens only (rule 13's scope check).
                return principal, False
            if (principal.name, rid) in self._holdings:
                return principal, True
            return None

    def generation(self) -> int:
        with self._lock:
            return self._generation

    def put(
        self, token_hash: str, rid: str | None, principal: Principal, holds: bool, generation: int
    ) -> None:
        """Keep an answer read at `generation`, unless something changed since."""
        with self._lock:
            if not self._listening or generation != self._generation:
                return
            if len(self._principals) >= MAX_ENTRIES or len(self._holdings) >= MAX_ENTRIES:
                self._principals.clear()
                self._holdings.clear()
            self._principals[token_hash] = principal
            if holds and rid is not None:
                self._holdings.add((principal.name, rid))

    def hold(self, name: str, rid: str, generation: int) -> None:
        """Worker `name` holds `rid`: its claim was committed by this process after
        `generation` (a register), unless something changed since."""
        with self._lock:
            if self._listening and generation == self._generation:
                if len(self._holdings) >= MAX_ENTRIES:
                    self._holdings.clear()
                self._holdings.add((name, rid))

    def forget(self) -> None:
        """Empty the cache now (this process changed tokens or grants itself: it need not
        wait for its own notice)."""
        with self._lock:
            listening = self._listening
        self._forget(listening)

    def _forget(self, listening: bool) -> None:
        with self._lock:
            self._principals.clear()
            self._holdings.clear()
            self._generation += 1
            self._listening = listening
            self._lock.notify_all()

    def wait_listening(self, timeout: float) -> bool:
        with self._lock:
            return self._lock.wait_for(lambda: self._listening, timeout)

    def wait_past(self, generation: int, timeout: float) -> bool:
        """Wait until the cache has been emptied since `generation` (False on timeout)."""
        with self._lock:
            return self._lock.wait_for(lambda: self._generation > generation, timeout)

    # --- the listener -------------------------------------------------------------------

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(
                    self._conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
                ) as conn:
                    conn.execute(f'LISTEN "{self._channel}"')
                    self._forget(listening=True)
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=0.5, stop_after=1):
                            self._forget(listening=True)
            except Exception as exc:  # noqa: BLE001 - the database went away: stop answering
                log.warning("token cache: %s (verifying every request until it is back)", exc)
            self._forget(listening=False)
            self._stop.wait(RECONNECT_SECONDS)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._forget(listening=False)
