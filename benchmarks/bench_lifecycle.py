"""Lifecycle background work: its cost per 10,000 registrations, and webhook delivery latency.

`python -m benchmarks.bench_lifecycle [--registrations N] [--database-url URL]`

Builds N registrations (one session each: 90% completed, 10% left in progress), then runs
serve's background tasks with a clock three hours ahead (every in-progress session is stuck):
- a first round that flags every stuck session (one command per candidate),
- a self-healing round (10% of registrations opted in),
- the steady state: a round with nothing to do (the set-based queries alone), which is
  what every serve process pays each `housekeeping_interval_seconds`.
Each is scaled to "per 10,000 registrations". Webhook latency is measured from the HTTP
answer of a `fail` to the receiver getting the signed message, with serve's background
work running as threads (webhook_poll_seconds 0.2 and 0.05).
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from benchmarks.common import Result, median, percentile
from domain.infra.database import Database
from domain.ledger import Ledger
from domain.values import Context

TINY = {"registrations": 200, "messages": 5}
PER = 10_000


def _build(ledger: Ledger, n: int) -> None:
    ctx = Context("bench", "lifecycle")
    admin = Context("bench-admin", "lifecycle")
    for i in range(n):
        rid = ledger.register(ctx, product="bench", file_id=f"f{i}").registration_id
        if i % 10 == 0:
            ledger.update_settings(admin, rid, {"auto_remove_stuck_after_minutes": 150})
        sid = ledger.start_session(ctx, rid, sync_type="time").session_id
        if i % 10 != 5:
            ledger.complete_session(ctx, rid, sid)


def housekeeping_cost(database: Database, n: int) -> list[Result]:
    from api.housekeeping import Housekeeping
    from api.settings import Settings
    from projections.read_models import ReadModels

    ledger = Ledger(database=database)
    started = time.perf_counter()
    _build(ledger, n)
    build_s = time.perf_counter() - started
    models = ReadModels(database)
    models.run_once()
    ahead = datetime.now(UTC) + timedelta(hours=3)
    hk = Housekeeping(
        database, settings=Settings(), clock=lambda: ahead, ledger=ledger, read_models=models
    )
    scale = PER / n
    rows: list[Result] = []

    def round_(label: str) -> dict[str, Any]:
        t0 = time.perf_counter()
        out = hk.run_once()
        elapsed = time.perf_counter() - t0
        models.run_once()
        rows.append(
            Result(
                group="lifecycle",
                name=f"{label} (per {PER:,} registrations)",
                value=elapsed * scale * 1000,
                unit="ms",
                baseline_name=f"building them: {n:,} registrations",
                baseline_value=build_s * scale * 1000,
            )
        )
        return out

    first = round_("first round: flag every stuck session, self-heal the opted-in")
    assert first["stuck"] == n // 10, first
    idle = []
    for _ in range(5):
        t0 = time.perf_counter()
        out = hk.run_once()
        idle.append(time.perf_counter() - t0)
        assert out["stuck"] == 0 and out["self_heal"] == 0, out
    rows.append(
        Result(
            group="lifecycle",
            name=f"steady round, nothing to do (per {PER:,} registrations)",
            value=median(idle) * scale * 1000,
            unit="ms",
            baseline_name="target: well under the 15 s interval",
            baseline_value=15_000.0,
            target="< 100 ms",
            met=median(idle) * scale < 0.1,
        )
    )
    from api.metrics import LedgerCollector

    collector = LedgerCollector(hk.webhook_store, lambda: ahead)
    scrapes = []
    for _ in range(5):
        t0 = time.perf_counter()
        list(collector.collect())
        scrapes.append(time.perf_counter() - t0)
    rows.append(
        Result(
            group="lifecycle",
            name=f"/metrics figures read from the database ({n:,} registrations)",
            value=median(scrapes) * 1000,
            unit="ms",
            baseline_name="steady housekeeping round",
            baseline_value=median(idle) * 1000,
        )
    )
    hk.close()
    models.close()
    ledger.close()
    return rows


def webhook_latency(database: Database, messages: int, poll: float) -> Result:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import get_settings

    got: dict[str, float] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("content-length") or 0))
            got[self.headers["webhook-id"]] = time.perf_counter()
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings = get_settings()
    old = settings.webhook_poll_seconds
    settings.webhook_poll_seconds = poll
    app = create_app(database, runners="thread")
    services = app.state.services
    token = services.tokens.create(f"bench-support-{poll}", "support")
    h = {"Authorization": f"Bearer {token}"}
    samples: list[float] = []
    try:
        with TestClient(app) as client:
            url = f"http://127.0.0.1:{server.server_address[1]}/hook"
            client.post("/v1/webhooks", headers=h, json={"url": url, "events": ["session.failed"]})
            rid = client.post(
                "/v1/registrations", headers=h, json={"product": "lat", "file_id": f"p{poll}"}
            ).json()["id"]
            for i in range(messages):
                sid = client.post(
                    f"/v1/registrations/{rid}/sessions", headers=h, json={"sync_type": f"t{i}"}
                ).json()["id"]
                before = len(got)
                client.post(
                    f"/v1/registrations/{rid}/sessions/{sid}/fail", headers=h, json={"reason": "x"}
                )
                answered = time.perf_counter()
                deadline = answered + 10
                while len(got) == before and time.perf_counter() < deadline:
                    time.sleep(0.002)
                arrived = max(got.values())
                samples.append(arrived - answered)
    finally:
        settings.webhook_poll_seconds = old
        server.shutdown()
        server.server_close()
    p95 = percentile(samples, 95) * 1000
    return Result(
        group="lifecycle",
        name=f"webhook delivery latency, p50 (poll {poll} s; p95 {p95:.0f} ms)",
        value=median(samples) * 1000,
        unit="ms",
        baseline_name="poll interval",
        baseline_value=poll * 1000,
    )


def run(
    quick: bool = True,
    registrations: int | None = None,
    messages: int | None = None,
    database_url: str | None = None,
) -> list[Result]:
    n = registrations or (10_000 if quick else 50_000)
    with tempfile.TemporaryDirectory() as tmp:
        db = Database.from_url(database_url or f"sqlite:///{Path(tmp) / 'lifecycle.db'}")
        rows = housekeeping_cost(db, n)
        for poll in (0.2, 0.05):
            own = Database.from_url(f"sqlite:///{Path(tmp) / f'latency-{poll}.db'}")
            rows.append(webhook_latency(own if database_url is None else db, messages or 20, poll))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--registrations", type=int, default=None)
    parser.add_argument("--messages", type=int, default=None)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    for r in run(
        registrations=args.registrations, messages=args.messages, database_url=args.database_url
    ):
        base = "" if r.baseline_value is None else f"  ({r.baseline_name}: {r.baseline_value:,.1f})"
        print(f"{r.name:95} {r.value:10.1f} {r.unit}{base}")


if __name__ == "__main__":
    main()
