"""Sending webhook messages: Standard Webhooks headers and signature, retries with backoff.

Runs in serve's background work (api/housekeeping.py), never in a request: a receiver that
is down or slow costs at most `webhook_timeout_seconds` per attempt of its own messages,
and ingest never waits for it. Each delivery is retried with exponential backoff, capped,
until the receiver answers 2xx or `webhook_max_attempts` is reached.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
from standardwebhooks.webhooks import Webhook

from api.settings import Settings
from api.webhooks.store import Due, WebhookStore

log = logging.getLogger("syncledger.webhooks")
CLAIM = 32
SENDERS = 8
MICROS = 1_000_000

Clock = Callable[[], datetime]


def micros(at: datetime) -> int:
    return int(at.timestamp() * MICROS)


def backoff_seconds(attempt: int, base: float, cap: float) -> float:
    """Wait after the `attempt`-th failure: base, 2·base, 4·base, … never more than cap."""
    return float(min(cap, base * (2 ** max(0, attempt - 1))))


def signed_headers(due: Due, sent_at: datetime) -> dict[str, str]:
    """webhook-id, webhook-timestamp and webhook-signature (HMAC-SHA256 of id.ts.body)."""
    signature = Webhook(due.secret).sign(due.id, sent_at, due.body)
    return {
        "content-type": "application/json",
        "user-agent": "syncledger-webhooks",
        "webhook-id": due.id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signature,
    }


class Deliverer:
    def __init__(
        self,
        store: WebhookStore,
        settings: Settings,
        clock: Clock,
        client: httpx.Client | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.client = client or httpx.Client(
            timeout=settings.webhook_timeout_seconds, follow_redirects=False
        )
        self._pool = ThreadPoolExecutor(SENDERS, thread_name_prefix="webhook")
        self.latencies_ms: list[float] = []

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.client.close()

    def run_once(self) -> dict[str, int]:
        """Fill the outbox from the log, then send everything due; returns counts."""
        now = micros(self.clock())
        queued = 0
        # One statement answers the usual case (nothing to fill, nothing due); the
        # housekeeping loop asks after every page the views commit (issue 16).
        look = self.store.outbox.look()
        first = look.next_due
        if look.behind:
            while True:
                added, caught_up = self.store.outbox.fill(now)
                queued += added
                if caught_up:
                    break
            first = self.store.outbox.look().next_due
        if first is None or first > micros(self.clock()):
            return {"queued": queued, "sent": 0, "delivered": 0}
        sent = delivered = 0
        lease = int((self.settings.webhook_timeout_seconds + 30) * MICROS)
        while due := self.store.claim(micros(self.clock()), lease, CLAIM):
            statuses = list(self._pool.map(self._attempt, due))
            sent += len(due)
            delivered += statuses.count("delivered")
        return {"queued": queued, "sent": sent, "delivered": delivered}

    def _attempt(self, due: Due) -> str:
        started = time.perf_counter()
        code: int | None = None
        error: str | None = None
        try:
            response = self.client.post(
                due.url,
                content=due.body.encode(),
                headers=signed_headers(due, datetime.now(UTC)),
            )
            code = response.status_code
            if not 200 <= code < 300:
                error = f"HTTP {code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500] or type(exc).__name__
        except Exception as exc:  # noqa: BLE001 - a bad URL must not stop the other sends
            error = f"{type(exc).__name__}: {exc}"[:500]
        duration = (time.perf_counter() - started) * 1000
        attempt = due.attempts + 1
        s = self.settings
        wait = backoff_seconds(attempt, s.webhook_retry_base_seconds, s.webhook_retry_cap_seconds)
        now = micros(self.clock())
        status = self.store.record(
            due,
            at=now,
            response_code=code,
            error=error,
            duration_ms=duration,
            next_attempt_at=now + int(wait * MICROS),
            give_up=attempt >= s.webhook_max_attempts,
        )
        if status == "delivered":
            self.latencies_ms.append(duration)
            del self.latencies_ms[:-1000]
        elif error is not None:
            log.warning("webhook delivery %s to %s failed: %s", due.id, due.url, error)
        return status
