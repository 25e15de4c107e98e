"""Webhook subscriptions, their outbox and delivery log, in the ledger's own database.

The outbox (api/webhooks/outbox.py) is filled from the event log the way a view is, so a
crash never loses or doubles a message; at-least-once delivery then follows from retrying
each delivery row until a receiver answers 2xx.

Subscriptions are configuration, not history: they live in a table (like the API tokens),
and the signing secret is kept as it is, because signing needs it (a hash could only
verify). It is shown once, when the webhook is created.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from api.webhooks.outbox import TRACKER, Outbox
from domain.infra.database import Database
from projections.events import head
from projections.fmt import clamp, decode_cursor, encode_cursor, iso
from projections.store import Store

_DDL = (
    "CREATE TABLE IF NOT EXISTS webhooks (id TEXT PRIMARY KEY, url TEXT NOT NULL, "
    "events TEXT NOT NULL, description TEXT, secret TEXT NOT NULL, created_by TEXT, "
    "created_at BIGINT NOT NULL, from_position BIGINT NOT NULL, deleted_at BIGINT, "
    "deleted_by TEXT)",
    "CREATE TABLE IF NOT EXISTS webhook_tracking (name TEXT PRIMARY KEY, position BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS webhook_deliveries (id TEXT PRIMARY KEY, "
    "webhook_id TEXT NOT NULL, position BIGINT NOT NULL, event_type TEXT NOT NULL, "
    "body TEXT NOT NULL, status TEXT NOT NULL, attempts BIGINT NOT NULL, "
    "next_attempt_at BIGINT, last_response_code BIGINT, last_error TEXT, "
    "created_at BIGINT NOT NULL, delivered_at BIGINT)",
    "CREATE INDEX IF NOT EXISTS ix_webhook_deliveries_due "
    "ON webhook_deliveries (status, next_attempt_at)",
    "CREATE INDEX IF NOT EXISTS ix_webhook_deliveries_hook "
    "ON webhook_deliveries (webhook_id, position)",
    "CREATE TABLE IF NOT EXISTS webhook_attempts (delivery_id TEXT NOT NULL, "
    "attempt BIGINT NOT NULL, at BIGINT NOT NULL, response_code BIGINT, error TEXT, "
    "duration_ms DOUBLE PRECISION, PRIMARY KEY (delivery_id, attempt))",
)


@dataclass(frozen=True)
class Due:
    """A delivery claimed for one attempt."""

    id: str
    webhook_id: str
    url: str
    secret: str
    body: str
    attempts: int


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class WebhookStore:
    def __init__(self, database: Database, store: Store | None = None) -> None:
        self.store = store or Store(database)
        self._owns_store = store is None
        self.outbox = Outbox(self.store)
        with self.store.write() as tx:
            if tx.pg:
                tx.x("SELECT pg_advisory_xact_lock(7013)")
            for stmt in _DDL:
                tx.x(stmt if tx.pg else stmt.replace("DOUBLE PRECISION", "REAL"))
            tx.x(
                "INSERT INTO webhook_tracking (name, position) VALUES (?, 0) "
                "ON CONFLICT DO NOTHING",
                (TRACKER,),
            )

    def close(self) -> None:
        if self._owns_store:
            self.store.close()

    # --- subscriptions -------------------------------------------------------------------

    def create(
        self, *, url: str, events: Sequence[str], description: str | None, actor: str, now: int
    ) -> dict[str, Any]:
        """A new webhook; the returned row holds the secret (shown this once)."""
        hook_id, secret = str(uuid.uuid4()), new_secret()
        with self.store.write() as tx:
            start = head(tx)  # only what happens from now on
            tx.x(
                "INSERT INTO webhooks (id, url, events, description, secret, created_by, "
                "created_at, from_position) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    hook_id,
                    url,
                    orjson.dumps(list(events)).decode(),
                    description,
                    secret,
                    actor,
                    now,
                    start,
                ),
            )
        row = self.get(hook_id)
        assert row is not None
        return {**row, "secret": secret}

    _COLS = "id, url, events, description, created_by, created_at, from_position, deleted_at"

    @staticmethod
    def _row(r: Sequence[Any]) -> dict[str, Any]:
        return {
            "id": r[0],
            "url": r[1],
            "events": orjson.loads(r[2]),
            "description": r[3],
            "created_by": r[4],
            "created_at": iso(r[5]),
            "from_position": int(r[6]),
            "deleted_at": iso(r[7]),
        }

    def get(self, hook_id: str) -> dict[str, Any] | None:
        with self.store.read() as tx:
            r = tx.one(f"SELECT {self._COLS} FROM webhooks WHERE id = ?", (hook_id,))
        return None if r is None else self._row(r)

    def list_hooks(
        self, *, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        limit = clamp(limit)
        after = decode_cursor(cursor, str)
        where, params = "deleted_at IS NULL", list[Any]()
        if after is not None:
            where += " AND id > ?"
            params.append(str(after[0]))
        with self.store.read() as tx:
            rows = tx.q(
                f"SELECT {self._COLS} FROM webhooks WHERE {where} ORDER BY id LIMIT ?",
                (*params, limit + 1),
            )
        nxt = encode_cursor([rows[limit - 1][0]]) if len(rows) > limit else None
        return [self._row(r) for r in rows[:limit]], nxt

    def delete(self, hook_id: str, *, actor: str, now: int) -> bool:
        """Stop a webhook: no new messages, pending ones are cancelled. False if unknown."""
        with self.store.write() as tx:
            done = tx.x(
                "UPDATE webhooks SET deleted_at = ?, deleted_by = ? "
                "WHERE id = ? AND deleted_at IS NULL",
                (now, actor, hook_id),
            )
            tx.x(
                "UPDATE webhook_deliveries SET status = 'cancelled', next_attempt_at = NULL "
                "WHERE webhook_id = ? AND status = 'pending'",
                (hook_id,),
            )
        return done > 0

    # --- the outbox (api/webhooks/outbox.py) -------------------------------------------

    def position(self) -> int:
        """Every delivery for an event up to here exists."""
        return self.outbox.look().position

    # --- delivery ------------------------------------------------------------------------

    def claim(self, now: int, lease: int, limit: int) -> list[Due]:
        """Take up to `limit` due deliveries for one attempt each.

        Claiming pushes their next attempt past the lease, so another process does not send
        them too; if this one dies mid-attempt they come due again (at-least-once).
        """
        with self.store.write() as tx:
            skip = " FOR UPDATE OF d SKIP LOCKED" if tx.pg else ""
            rows = tx.q(
                "SELECT d.id, d.webhook_id, w.url, w.secret, d.body, d.attempts "
                "FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id "
                "WHERE d.status = 'pending' AND d.next_attempt_at <= ? "
                f"ORDER BY d.next_attempt_at LIMIT ?{skip}",
                (now, limit),
            )
            tx.many(
                "UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id = ?",
                [(now + lease, r[0]) for r in rows],
            )
        return [Due(str(r[0]), str(r[1]), r[2], r[3], r[4], int(r[5])) for r in rows]

    def record(
        self,
        due: Due,
        *,
        at: int,
        response_code: int | None,
        error: str | None,
        duration_ms: float,
        next_attempt_at: int | None,
        give_up: bool,
    ) -> str:
        """Log one attempt and settle the delivery; returns its new status."""
        ok = error is None and response_code is not None and 200 <= response_code < 300
        status = "delivered" if ok else ("failed" if give_up else "pending")
        attempt = due.attempts + 1
        with self.store.write() as tx:
            changed = tx.x(
                "UPDATE webhook_deliveries SET status = ?, attempts = ?, next_attempt_at = ?, "
                "last_response_code = ?, last_error = ?, delivered_at = ? "
                "WHERE id = ? AND status = 'pending' AND attempts = ?",
                (
                    status,
                    attempt,
                    None if status != "pending" else next_attempt_at,
                    response_code,
                    error,
                    at if ok else None,
                    due.id,
                    due.attempts,
                ),
            )
            if changed:
                tx.x(
                    "INSERT INTO webhook_attempts VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (due.id, attempt, at, response_code, error, duration_ms),
                )
        return status

    # --- the delivery log ----------------------------------------------------------------

    def deliveries(
        self, hook_id: str, *, status: str | None, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        limit = clamp(limit)
        after = decode_cursor(cursor, int, str)
        where = ["webhook_id = ?"]
        params: list[Any] = [hook_id]
        if status is not None:
            where.append("status = ?")
            params.append(status)
        if after is not None:
            where.append("(position < ? OR (position = ? AND id > ?))")
            params += [int(after[0]), int(after[0]), str(after[1])]
        with self.store.read() as tx:
            rows = tx.q(
                "SELECT id, position, event_type, status, attempts, next_attempt_at, "
                "last_response_code, last_error, created_at, delivered_at, body "
                f"FROM webhook_deliveries WHERE {' AND '.join(where)} "
                "ORDER BY position DESC, id LIMIT ?",
                (*params, limit + 1),
            )
            ids = [r[0] for r in rows[:limit]]
            tried: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
            if ids:
                marks = ", ".join("?" for _ in ids)
                for did, n, at, code, err, ms in tx.q(
                    "SELECT delivery_id, attempt, at, response_code, error, duration_ms "
                    f"FROM webhook_attempts WHERE delivery_id IN ({marks}) "
                    "ORDER BY delivery_id, attempt",
                    ids,
                ):
                    tried[did].append(
                        {
                            "attempt": int(n),
                            "at": iso(at),
                            "response_code": code,
                            "error": err,
                            "duration_ms": None if ms is None else round(float(ms), 3),
                        }
                    )
        items = [
            {
                "id": r[0],
                "position": int(r[1]),
                "event_type": r[2],
                "status": r[3],
                "attempts": int(r[4]),
                "next_attempt_at": iso(r[5]) if r[3] == "pending" else None,
                "last_response_code": r[6],
                "last_error": r[7],
                "created_at": iso(r[8]),
                "delivered_at": iso(r[9]),
                "payload": orjson.loads(r[10]),
                "attempt_log": tried[r[0]],
            }
            for r in rows[:limit]
        ]
        nxt = encode_cursor([rows[limit - 1][1], rows[limit - 1][0]]) if len(rows) > limit else None
        return items, nxt

    def backlog(self) -> dict[str, int]:
        """Deliveries by status and failed attempts, for /metrics."""
        with self.store.read() as tx:
            counts = {
                str(s): int(n)
                for s, n in tx.q("SELECT status, COUNT(*) FROM webhook_deliveries GROUP BY status")
            }
            failed = tx.one(
                "SELECT COUNT(*) FROM webhook_attempts WHERE error IS NOT NULL "
                "OR response_code < 200 OR response_code >= 300"
            )
        counts["failed_attempts"] = int(failed[0]) if failed else 0
        return counts
