"""Small requests against a real `syncledger serve`: the calls an agent or a support page makes.

    python -m benchmarks.bench_small [--ops N] [--holdings N] [--postgres URL]

Per backend, one keep-alive client, each figure beside two baselines from the same run:
- `GET /v1/health` rate: the framework's ceiling on this machine. Each op's ratio is to a
  burst of health calls timed just before the op's own loop, with the views caught up
  (benchmarks/small_client.py `Timer.baseline`), so both see the machine at the same
  minute; the table's own health row is the median of three bursts (start, middle, end);
- a raw single-row commit: plain sqlite3 (WAL, synchronous=NORMAL) or psycopg, one INSERT and
  one COMMIT per row.
Writes (register, start, heartbeat, error, complete, fail, sync request, delete of a stuck
session) target >= 0.5x the health rate; reads (registration, session history page of 20,
session detail, receipts page) >= 0.7x. Each rate is the number of calls divided by the time
spent in those calls only (set-up calls are not counted).
Also: PostgreSQL small writes from 8 concurrent clients on distinct registrations vs 1 client
(target >= 2x), and a worker's registrations list vs support's at N holdings (target: the
same cost). No timing is asserted anywhere; the figures go into `make bench`'s table.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import served
from benchmarks.common import Result, median
from benchmarks.small_client import Api, Timer, health_rate, register, start
from benchmarks.small_concurrency import Watch, write_cycles_rate

TINY: dict[str, Any] = {"ops": 6, "holdings": 12, "concurrent_ops": 4}
JSON = {"content-type": "application/json"}
WRITE_TARGET, READ_TARGET, CONCURRENCY_TARGET = 0.5, 0.7, 2.0
CLIENTS = 8


# --- baselines --------------------------------------------------------------------------------


def raw_commit_sqlite(n: int) -> float:
    """Single-row commits/s: sqlite3, WAL, synchronous=NORMAL (the ledger's settings)."""
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(Path(tmp) / "raw.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
        started = time.perf_counter()
        for i in range(n):
            conn.execute("BEGIN")
            conn.execute("INSERT INTO t (body) VALUES (?)", (f"row-{i}",))
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - started
        conn.close()
    return n / elapsed


def raw_commit_postgres(conninfo: str, schema: str, n: int) -> float:
    import psycopg

    with psycopg.connect(conninfo) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        conn.execute("CREATE TABLE raw_commit (id BIGSERIAL PRIMARY KEY, body TEXT)")
        conn.commit()
        started = time.perf_counter()
        for i in range(n):
            conn.execute("INSERT INTO raw_commit (body) VALUES (%s)", (f"row-{i}",))
            conn.commit()
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE raw_commit")
        conn.commit()
    return n / elapsed


# --- one client -------------------------------------------------------------------------------


def quiet_server(conninfo: str) -> None:
    """Flush what the suites before this one wrote (CHECKPOINT), so the server's spread
    checkpoint of their hundreds of thousands of rows does not run through these loops.
    Its writes and final sync (up to ~10 s here, tens of thousands of files) landed in
    some loops and not in their health bursts: heartbeat 0.49x health in one `make bench`,
    0.52-0.57x alone. A manual checkpoint also restarts the server's checkpoint_timeout,
    so the next timed one comes after this suite. Needs superuser (or pg_checkpoint);
    without it the run goes on as before."""
    import psycopg

    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
    except psycopg.Error:
        pass


def small_writes(worker: Api, support: Api, ops: int, timer: Timer) -> list[str]:
    """Every small write, `ops` times each, on `ops` registrations; returns notes."""
    notes: list[str] = []
    tag = uuid.uuid4().hex[:8]
    rids = []
    timer.baseline(worker, "register")
    for i in range(ops):
        with timer.time("register"):
            rids.append(register(worker, f"small-{tag}-{i}"))
    sids = []
    timer.baseline(worker, "start")
    for rid in rids:
        with timer.time("start"):
            sids.append(start(worker, rid, "full"))
    heartbeat = worker.has_path("/heartbeat")
    if not heartbeat:
        notes.append("heartbeat: no endpoint yet, skipped")
    timer.baseline(worker, "heartbeat", "error", "complete")
    for rid, sid in zip(rids, sids, strict=True):
        base = f"/v1/registrations/{rid}/sessions/{sid}"
        if heartbeat:
            with timer.time("heartbeat"):
                worker.post(f"{base}/heartbeat", {})
        with timer.time("error"):
            worker.post(f"{base}/errors", {"message": "timeout talking to the accounts"})
        worker.post(
            f"{base}/records", {"records": [{"entity_type": "T", "key": sid, "digest": "d"}]}
        )
        with timer.time("complete"):
            worker.post(f"{base}/complete", {})
    timer.baseline(worker, "fail")
    for rid in rids:
        sid = start(worker, rid, "time")
        with timer.time("fail"):
            worker.post(f"/v1/registrations/{rid}/sessions/{sid}/fail", {"reason": "bench"})
    timer.baseline(worker, "sync request")
    for rid in rids:
        with timer.time("sync request"):
            support.post(f"/v1/registrations/{rid}/sync-requests", {"kind": "periodic"})
    timer.baseline(worker, "delete stuck session")
    for rid in rids:
        # A stuck session as the articles describe it: in progress, nothing synced, the
        # most recent of its type (rule 5) - safe to delete.
        sid = start(worker, rid, "custom")
        with timer.time("delete stuck session"):
            support.post(
                f"/v1/registrations/{rid}/sessions/{sid}/delete", {"reason": "stuck (bench)"}
            )
    return notes


def reads(worker: Api, ops: int, timer: Timer) -> None:
    """Reads of one registration with 25 sessions, each with 20 records."""
    rid = register(worker, f"reads-{uuid.uuid4().hex[:8]}")
    last: dict[str, Any] = {}
    sid = ""
    for n in range(25):
        sid = start(worker, rid, "time")
        base = f"/v1/registrations/{rid}/sessions/{sid}"
        records = [
            {"entity_type": "Client List", "key": f"c-{n}-{i}", "digest": "d"} for i in range(20)
        ]
        worker.post(f"{base}/records", {"records": records})
        last = worker.post(f"{base}/complete", {})
    worker.get(f"/v1/registrations/{rid}", min_position=last["position"], wait_s=30)
    reads_of = {
        "read registration": (f"/v1/registrations/{rid}", {}),
        "read session history (20)": (f"/v1/registrations/{rid}/sessions", {"limit": 20}),
        "read session detail": (f"/v1/registrations/{rid}/sessions/{sid}", {}),
        "read receipts page (100)": (f"/v1/registrations/{rid}/receipts", {"limit": 100}),
    }
    for path, params in reads_of.values():
        worker.get(path, **params)  # warm
    timer.baseline(worker, *reads_of)
    for _ in range(ops):
        for op, (path, params) in reads_of.items():
            with timer.time(op):
                worker.get(path, **params)


# --- worker list vs support list --------------------------------------------------------------


def list_costs(base: str, tokens: dict[str, str], holdings: int, reps: int) -> tuple[float, float]:
    """Median ms of `GET /v1/registrations?limit=100` for a worker holding `holdings`
    registrations and for support (who sees at least as many)."""
    tag = uuid.uuid4().hex[:8]
    share = -(-holdings // 4)

    def register_some(k: int) -> None:
        api = Api(base, tokens["worker"])
        for i in range(k * share, min(holdings, (k + 1) * share)):
            register(api, f"held-{tag}-{i}")
        api.close()

    threads = [threading.Thread(target=register_some, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out = []
    for role in ("worker", "support"):
        api = Api(base, tokens[role])
        api.get("/v1/registrations", limit=100)
        samples = []
        for _ in range(reps):
            started = time.perf_counter()
            api.get("/v1/registrations", limit=100)
            samples.append((time.perf_counter() - started) * 1000)
        api.close()
        out.append(median(samples))
    return out[0], out[1]


# --- the suite --------------------------------------------------------------------------------

WRITES = (
    "register",
    "start",
    "heartbeat",
    "error",
    "complete",
    "fail",
    "sync request",
    "delete stuck session",
)
READS = (
    "read registration",
    "read session history (20)",
    "read session detail",
    "read receipts page (100)",
)


def _backend(
    kind: str,
    instance: served.Served,
    raw_commit: float,
    raw_name: str,
    ops: int,
    holdings: int,
    concurrent_ops: int,
    conninfo: str | None = None,
) -> list[Result]:
    worker = Api(instance.base, instance.tokens["worker"])
    support = Api(instance.base, instance.tokens["support"])
    bursts = max(50, ops * 10)
    healths = [health_rate(worker, bursts)]
    timer = Timer()
    notes = small_writes(worker, support, ops, timer)
    healths.append(health_rate(worker, bursts))
    reads(worker, ops, timer)
    healths.append(health_rate(worker, bursts))
    health = statistics.median(healths)
    worker.close()
    support.close()
    results = [
        Result("small", f"GET /v1/health ({kind})", health, "req/s", raw_name, raw_commit),
    ]
    for ops_names, target in ((WRITES, WRITE_TARGET), (READS, READ_TARGET)):
        for op in ops_names:
            if op not in timer.calls:
                continue
            rate, beside = timer.rate(op), timer.rate(timer.baseline_of(op))
            results.append(
                Result(
                    "small",
                    f"{op} ({kind})",
                    rate,
                    "req/s",
                    "GET /v1/health, beside",
                    beside,
                    f">= {target}x health",
                    rate >= target * beside,
                )
            )
    for note in notes:
        results.append(Result("small", f"{note} ({kind})", 0, "note"))
    one = write_cycles_rate(instance.base, instance.tokens["worker"], 1, concurrent_ops * 2)
    with Watch(instance.pid, conninfo) as watch:
        many = write_cycles_rate(instance.base, instance.tokens["worker"], CLIENTS, concurrent_ops)
    # What the 8 clients' writes spent their time on: the served processes' CPU and, on
    # PostgreSQL, what its active backends waited for (docs/architecture.md).
    # Whether more concurrency could help at all on this machine: the CPU per write and the
    # ceiling it sets against one client (benchmarks/small_concurrency.py, Watch).
    writes = CLIENTS * concurrent_ops * 3
    detail = (
        f"API process {watch.cpu['api']:.0f}% of a core, runners {watch.cpu['runners']:.0f}%; "
        f"{watch.per_write(writes)}; at this CPU per write {watch.cores} cores allow at most "
        f"{watch.ceiling(writes, one):.2f}x 1 client"
    )
    if watch.wait_shares():
        detail += f"; {watch.wait_shares()}"
    results.append(
        Result(
            "small",
            f"small writes, {CLIENTS} clients on distinct registrations ({kind})",
            many,
            "req/s",
            "1 client",
            one,
            f">= {CONCURRENCY_TARGET}x 1 client" if kind == "postgresql" else "",
            many >= CONCURRENCY_TARGET * one if kind == "postgresql" else None,
            detail,
        )
    )
    worker_ms, support_ms = list_costs(instance.base, instance.tokens, holdings, max(5, ops))
    results.append(
        Result(
            "small",
            f"worker's registrations list at {holdings:,} holdings ({kind})",
            worker_ms,
            "ms",
            "support's list",
            support_ms,
            "<= 1.5x support",
            worker_ms <= 1.5 * support_ms,
        )
    )
    return results


def run(
    quick: bool = True,
    ops: int | None = None,
    holdings: int = 3_000,
    concurrent_ops: int | None = None,
    postgres: str | None = None,
) -> list[Result]:
    ops = ops or (200 if quick else 1_000)
    concurrent_ops = concurrent_ops or (30 if quick else 100)
    roles = ("worker", "support")
    results: list[Result] = []
    raw = raw_commit_sqlite(max(200, ops * 10))
    with tempfile.TemporaryDirectory() as tmp, served.serve(Path(tmp), roles=roles) as instance:
        results += _backend(
            "sqlite", instance, raw, "raw sqlite3 1-row commit", ops, holdings, concurrent_ops
        )
    pg = served.postgres_url(postgres)
    if pg is not None:
        with served.pg_schema(pg, "bench_small") as (schema_url, conninfo, schema):
            quiet_server(conninfo)
            raw = raw_commit_postgres(conninfo, schema, max(200, ops * 10))
            with (
                tempfile.TemporaryDirectory() as tmp,
                served.serve(Path(tmp), schema_url, roles=roles) as instance,
            ):
                results += _backend(
                    "postgresql",
                    instance,
                    raw,
                    "raw psycopg 1-row commit",
                    ops,
                    holdings,
                    concurrent_ops,
                    conninfo,
                )
    return results


def print_results(rows: list[Result], out: Callable[[str], None] = print) -> None:
    for r in rows:
        ratio = f"  ({r.ratio:.2f} x {r.baseline_name} {r.baseline_value:,.0f})" if r.ratio else ""
        met = "" if r.met is None else (" met" if r.met else " MISSED")
        out(f"{r.name:<72} {r.value:>10,.1f} {r.unit:<6} {r.target}{met}{ratio}")
        if r.detail:
            out(f"    {r.detail}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=None, help="calls per operation (200)")
    parser.add_argument("--holdings", type=int, default=3_000)
    parser.add_argument("--concurrent-ops", type=int, default=None)
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--postgres", default=None, help='PostgreSQL URL ("" to skip)')
    args = parser.parse_args(argv)
    print_results(
        run(
            quick=not args.full,
            ops=args.ops,
            holdings=args.holdings,
            concurrent_ops=args.concurrent_ops,
            postgres=args.postgres,
        )
    )


if __name__ == "__main__":
    main()
