"""The locust load test (benchmarks/loadtest.py) against a served instance, on both backends.

    python -m benchmarks.bench_load [--agents N] [--readers N] [--seconds S] [--postgres URL]

One row per operation: the p99 latency (ms) as the figure, p50 / p95 / p99, calls and errors
in the detail column; plus the total error count, which should be 0.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

from benchmarks import served
from benchmarks.common import Result

TINY: dict[str, Any] = {"agents": 3, "readers": 1, "seconds": 3.0}
ROLES = ("worker", "support")


def load(instance: served.Served, agents: int, readers: int, seconds: float) -> dict[str, Any]:
    paths = httpx.get(f"{instance.base}/openapi.json", timeout=30).json().get("paths", {})
    heartbeat = any(p.endswith("/heartbeat") for p in paths)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "load.json"
        command = [
            sys.executable,
            "-m",
            "benchmarks.loadtest",
            "--host",
            instance.base,
            # `=` form: a token may begin with "-", which argparse would take for an option.
            f"--worker-token={instance.tokens['worker']}",
            f"--support-token={instance.tokens['support']}",
            "--agents",
            str(agents),
            "--readers",
            str(readers),
            "--seconds",
            str(seconds),
            "--json",
            str(out),
        ]
        if heartbeat:
            command.append("--heartbeat")
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
        if done.returncode != 0:
            raise RuntimeError(f"load test failed: {done.stderr[-2000:]}")
        print(done.stdout, file=sys.stderr)
        report: dict[str, Any] = json.loads(out.read_text())
    report["heartbeat"] = heartbeat
    return report


def _rows(kind: str, report: dict[str, Any]) -> list[Result]:
    users = report["users"]
    rows = []
    total_errors = 0
    for name, op in sorted(report["ops"].items()):
        total_errors += op["errors"]
        rows.append(
            Result(
                "load",
                f"{name} p99, {users} users ({kind})",
                float(op["p99"]),
                "ms",
                detail=(
                    f"p50 {op['p50']:.0f} / p95 {op['p95']:.0f} / p99 {op['p99']:.0f} ms, "
                    f"{op['calls']:,} calls, {op['rps']:.1f}/s, {op['errors']} errors"
                ),
            )
        )
    detail = "; ".join(f"{e['op']}: {e['error']} x{e['count']}" for e in report["errors"])[:200]
    if not report["heartbeat"]:
        detail = ("no heartbeat endpoint yet: agents skip it. " + detail).strip()
    rows.append(
        Result(
            "load",
            f"errors, {users} users ({kind})",
            float(total_errors),
            "errors",
            target="0",
            met=total_errors == 0,
            detail=detail,
        )
    )
    return rows


def run(
    quick: bool = True,
    agents: int | None = None,
    readers: int | None = None,
    seconds: float | None = None,
    postgres: str | None = None,
) -> list[Result]:
    agents = agents or (30 if quick else 100)
    readers = readers or (5 if quick else 20)
    seconds = seconds or (20.0 if quick else 60.0)
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp, served.serve(Path(tmp), roles=ROLES) as instance:
        results += _rows("sqlite", load(instance, agents, readers, seconds))
    pg = served.postgres_url(postgres)
    if pg is not None:
        with (
            served.pg_schema(pg, "bench_load") as (schema_url, _, _),
            tempfile.TemporaryDirectory() as tmp,
            served.serve(Path(tmp), schema_url, roles=ROLES) as instance,
        ):
            results += _rows("postgresql", load(instance, agents, readers, seconds))
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=None)
    parser.add_argument("--readers", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--postgres", default=None, help='PostgreSQL URL ("" to skip)')
    args = parser.parse_args(argv)
    for r in run(not args.full, args.agents, args.readers, args.seconds, args.postgres):
        print(f"{r.name:<48} {r.value:>8,.0f} {r.unit:<6} {r.detail}")


if __name__ == "__main__":
    main()
