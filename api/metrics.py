"""/metrics (Prometheus text format) and the structured request log.

Request counts and latency per route are counted in the API process, by a plain ASGI
middleware (one dict update per request, no thread hop). Everything about the ledger —
events appended, records ingested, projection lag, live and stuck sessions, the webhook
backlog — is read from the database at scrape time, so every serve process (and its
background child) reports the same figures without sharing memory.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.inline import InFlight
from api.webhooks.store import WebhookStore
from domain.liveness import to_micros
from projections.events import head
from projections.reads.liveness import count_live_sessions

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

request_log = logging.getLogger("syncledger.requests")


class LedgerCollector(Collector):
    """Figures computed from the database at each scrape."""

    def __init__(self, webhooks: WebhookStore, clock: Callable[[], Any]) -> None:
        self.webhooks = webhooks
        self.clock = clock

    def collect(self) -> Iterable[Metric]:
        store = self.webhooks.store
        with store.read() as tx:
            top = head(tx)
            views = tx.q("SELECT view, position FROM view_tracking")
            records = tx.one("SELECT COALESCE(SUM(records_synced), 0) FROM view_sessions")
            live, stuck = count_live_sessions(tx, to_micros(self.clock()))
        yield CounterMetricFamily(
            "syncledger_events_appended", "Events in the log (its head position)", value=top
        )
        yield CounterMetricFamily(
            "syncledger_records_ingested",
            "Records accepted into sessions (duplicates excluded)",
            value=int(records[0]) if records else 0,
        )
        lag = GaugeMetricFamily(
            "syncledger_projection_lag_events",
            "Events a view has still to process",
            labels=["view"],
        )
        for name, position in views:
            lag.add_metric([str(name)], max(0, top - int(position)))
        lag.add_metric(["webhooks"], max(0, top - self.webhooks.position()))
        yield lag
        yield GaugeMetricFamily(
            "syncledger_sessions_in_progress", "Sessions in progress (not removed)", value=live
        )
        yield GaugeMetricFamily(
            "syncledger_sessions_stuck",
            "In-progress sessions idle past stuck_after_minutes",
            value=stuck,
        )
        backlog = self.webhooks.backlog()
        yield GaugeMetricFamily(
            "syncledger_webhook_backlog",
            "Webhook deliveries waiting to be sent",
            value=backlog.get("pending", 0),
        )
        by_status = GaugeMetricFamily(
            "syncledger_webhook_deliveries", "Webhook deliveries by status", labels=["status"]
        )
        for status in ("pending", "delivered", "failed", "cancelled"):
            by_status.add_metric([status], backlog.get(status, 0))
        yield by_status
        yield CounterMetricFamily(
            "syncledger_webhook_failed_attempts",
            "Webhook attempts that got no 2xx answer",
            value=backlog.get("failed_attempts", 0),
        )


class Metrics:
    """One registry per app (tests build many apps in one process)."""

    def __init__(self, webhooks: WebhookStore, clock: Callable[[], Any]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "syncledger_http_requests",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "syncledger_http_request_duration_seconds",
            "HTTP request latency by route template and method",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(LedgerCollector(webhooks, clock))

    def render(self) -> bytes:
        return generate_latest(self.registry)


def route_of(scope: Scope) -> str:
    """The route template (/v1/registrations/{rid}), never the raw path (bounded labels)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    return "unmatched"


class RequestObserver:
    """Counts and times each request; with `log_json`, writes one JSON line for it."""

    def __init__(self, app: ASGIApp, metrics: Metrics, log_json: bool) -> None:
        self.app = app
        self.metrics = metrics
        self.log_json = log_json

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        InFlight.arrived(scope.get("client"))

        async def observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            InFlight.left()
            elapsed = time.perf_counter() - started
            route, method = route_of(scope), str(scope.get("method", ""))
            self.metrics.requests.labels(route, method, str(status)).inc()
            self.metrics.latency.labels(route, method).observe(elapsed)
            if self.log_json:
                self._log(scope, route, method, status, elapsed)

    @staticmethod
    def _log(scope: Scope, route: str, method: str, status: int, elapsed: float) -> None:
        state = scope.get("state") or {}
        principal = state.get("principal")
        line = {
            "ts": time.time(),
            "level": "info" if status < 500 else "error",
            "msg": "request",
            "correlation_id": state.get("correlation_id"),
            "method": method,
            "route": route,
            "path": scope.get("path"),
            "status": status,
            "duration_ms": round(elapsed * 1000, 3),
            "actor": getattr(principal, "name", None),
        }
        sys.stderr.write(orjson.dumps(line).decode() + "\n")
