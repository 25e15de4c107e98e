"""Locust (library mode) load test against a served instance: sync agents and support readers.

    python -m benchmarks.loadtest --host URL --worker-token T --support-token T \
        [--agents 30] [--readers 5] [--seconds 20] [--json FILE]

Each simulated agent registers its own bucket once, then syncs over and over: start a
session, send a few batches, heartbeat between them (when the server has the endpoint),
complete, then diff what it holds against the receipts. Each support reader pages through
the registrations, opens one, reads its session history and the audit log. Prints p50 / p95 /
p99 per operation and the errors; `--json` writes them for `bench_load`.

Runs in its own process: importing locust monkey-patches the standard library for gevent,
which must not leak into the rest of the benchmark suite.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import uuid
from typing import Any

import gevent
from locust import HttpUser, between, task
from locust.env import Environment

BATCHES, BATCH = 3, 200
KNOWN: list[str] = []  # registrations the agents made, for the readers to open
SETTINGS: dict[str, Any] = {}


class Agent(HttpUser):
    """A sync agent (worker token): register once, then sync sessions in a loop."""

    wait_time = between(0.05, 0.2)

    def on_start(self) -> None:
        self.client.headers["Authorization"] = f"Bearer {SETTINGS['worker_token']}"
        self.tag = uuid.uuid4().hex[:10]
        self.synced = 0
        r = self.client.post(
            "/v1/registrations", json={"product": "load", "file_id": self.tag}, name="register"
        )
        self.rid = r.json()["id"] if r.status_code in (200, 201) else None
        if self.rid:
            KNOWN.append(self.rid)

    @task
    def sync(self) -> None:
        if self.rid is None:
            return
        base = f"/v1/registrations/{self.rid}/sessions"
        r = self.client.post(base, json={"sync_type": "full"}, name="start")
        if r.status_code not in (200, 201):
            return
        session = f"{base}/{r.json()['id']}"
        sent = []
        for _ in range(BATCHES):
            records = [
                {
                    "entity_type": "Client List",
                    "key": f"{self.tag}-{self.synced + i}",
                    "digest": "d",
                }
                for i in range(BATCH)
            ]
            self.synced += BATCH
            sent += records
            self.client.post(f"{session}/records", json={"records": records}, name="batch")
            if SETTINGS["heartbeat"]:
                self.client.post(f"{session}/heartbeat", json={}, name="heartbeat")
        self.client.post(f"{session}/complete", json={}, name="complete")
        self.client.post(
            f"/v1/registrations/{self.rid}/receipts/diff",
            json={"records": sent[-BATCH:]},
            name="diff",
        )


class SupportReader(HttpUser):
    """A support person reading: the list, one registration, its history, the audit log."""

    wait_time = between(0.2, 0.5)

    def on_start(self) -> None:
        self.client.headers["Authorization"] = f"Bearer {SETTINGS['support_token']}"

    @task
    def browse(self) -> None:
        self.client.get("/v1/registrations", params={"limit": 50}, name="list registrations")
        if not KNOWN:
            return
        rid = random.choice(KNOWN)
        self.client.get(f"/v1/registrations/{rid}", name="read registration")
        self.client.get(
            f"/v1/registrations/{rid}/sessions", params={"limit": 20}, name="session history"
        )
        self.client.get("/v1/audit", params={"limit": 50}, name="audit log")


def run_load(host: str, agents: int, readers: int, seconds: float) -> dict[str, Any]:
    Agent.weight, SupportReader.weight = agents, readers
    env = Environment(user_classes=[Agent, SupportReader], host=host)
    runner = env.create_local_runner()
    users = agents + readers
    runner.start(users, spawn_rate=max(1, users))
    gevent.spawn_later(seconds, runner.quit)
    runner.greenlet.join()
    ops: dict[str, Any] = {}
    for entry in env.stats.entries.values():
        ops[entry.name] = {
            "calls": entry.num_requests,
            "errors": entry.num_failures,
            "p50": entry.get_response_time_percentile(0.50),
            "p95": entry.get_response_time_percentile(0.95),
            "p99": entry.get_response_time_percentile(0.99),
            "rps": entry.total_rps,
        }
    errors = [
        {"op": e.name, "error": str(e.error)[:200], "count": e.occurrences}
        for e in env.stats.errors.values()
    ]
    return {"ops": ops, "errors": errors, "users": users, "seconds": seconds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--worker-token", required=True)
    parser.add_argument("--support-token", required=True)
    parser.add_argument("--agents", type=int, default=30)
    parser.add_argument("--readers", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--heartbeat", action="store_true", help="the server has heartbeats")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    SETTINGS.update(
        worker_token=args.worker_token,
        support_token=args.support_token,
        heartbeat=args.heartbeat,
    )
    report = run_load(args.host, args.agents, args.readers, args.seconds)
    print(f"{'operation':<20} {'calls':>7} {'errors':>6} {'p50':>7} {'p95':>7} {'p99':>7} ms")
    for name, op in sorted(report["ops"].items()):
        print(
            f"{name:<20} {op['calls']:>7} {op['errors']:>6} "
            f"{op['p50']:>7.0f} {op['p95']:>7.0f} {op['p99']:>7.0f}"
        )
    for error in report["errors"]:
        print(f"error: {error['op']}: {error['error']} x{error['count']}", file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
