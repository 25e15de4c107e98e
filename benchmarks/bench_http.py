"""HTTP ingest throughput and session-history read latency against a real `syncledger serve`.

`python -m benchmarks.bench_http [--records N] [--clients N] [--rate R] [--postgres URL]`
prints the figures; `run(...)` returns them as `Result` rows for `python -m benchmarks`.

- ingest (issues 3 and 6): records/s over HTTP in 1,000-record batches, from 1 client and from
  N clients (each its own registration and session, a worker token, keep-alive), timed until
  the last batch's receipts are readable (`GET …/receipts?min_position=<last position>`
  answers), beside the raw rate of the same rows in the same run: plain sqlite3.executemany
  (SQLite) or psycopg COPY (PostgreSQL), one commit per 1,000 rows. Targets: >= 80,000
  records/s on SQLite, >= 40,000 on PostgreSQL.
- reads: p50/p99 latency of `GET …/sessions` (session history of 20 sessions) sent at a
  fixed rate (default 200 requests/s). Target: p99 <= 20 ms.

PostgreSQL runs when the server is reachable (SYNCLEDGER_BENCH_POSTGRES, default the test
server; `--postgres ""` skips it), each run in a fresh schema that is dropped afterwards.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson

from benchmarks import served
from benchmarks.common import (
    Result,
    make_records,
    percentile,
    raw_postgres_copy,
    raw_sqlite_executemany,
    run_together,
)

BATCH = 1_000
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
TARGET = {"sqlite": 80_000, "postgresql": 40_000}
READ_P99_TARGET_MS = 20.0
TINY: dict[str, Any] = {"records": 4_000, "clients": 2, "reads": 40}
JSON = {"content-type": "application/json"}
Row = tuple[str, str, str]


@contextmanager
def serve(tmp: Path, url: str | None = None) -> Iterator[tuple[str, str]]:
    """A `syncledger serve` process (fresh SQLite file unless `url`); yields (base url, worker
    token). Ingest and reads use a worker token, as sync agents do (worker scope included)."""
    with served.serve(tmp, url, roles=("worker",)) as instance:
        yield instance.base, instance.tokens["worker"]


def _client(url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=120, headers={"Authorization": f"Bearer {token}"})


def _post(http: httpx.Client, path: str, body: Any) -> Any:
    r = http.post(path, content=orjson.dumps(body), headers=JSON)
    r.raise_for_status()
    return r.json()


def _open(url: str, token: str, name: str) -> tuple[httpx.Client, str, str]:
    """A keep-alive client with its registration and an in-progress session; returns the
    client, the session's records path and the registration's receipts path."""
    http = _client(url, token)
    rid = _post(http, "/v1/registrations", {"product": "bench", "file_id": name})["id"]
    sid = _post(http, f"/v1/registrations/{rid}/sessions", {"sync_type": "full"})["id"]
    return (
        http,
        f"/v1/registrations/{rid}/sessions/{sid}/records",
        f"/v1/registrations/{rid}/receipts",
    )


def _ingest(http: httpx.Client, path: str, receipts: str, rows: Sequence[Row]) -> None:
    """Send every batch, then read the receipts at the last batch's position (the read
    waits until the read models have processed it)."""
    position = 0
    for i in range(0, len(rows), BATCH):
        body = {
            "records": [
                {"entity_type": e, "key": k, "digest": d} for e, k, d in rows[i : i + BATCH]
            ]
        }
        position = _post(http, path, body)["position"]
    r = http.get(receipts, params={"min_position": position, "wait_s": 60, "limit": 1})
    r.raise_for_status()
    assert r.json()["items"], "the receipts of the last batch are not readable"


def ingest_rate(url: str, token: str, rows: Sequence[Row], clients: int, tag: str) -> float:
    """Records/s from `clients` concurrent clients, from the first batch until every client's
    receipts are readable. Registering and starting the sessions happen before the clock
    starts: an agent does that once per sync, then streams its batches."""
    share = max(BATCH, len(rows) // clients)
    opened = [_open(url, token, f"{tag}-{n}") for n in range(clients)]

    def work(n: int) -> None:
        http, path, receipts = opened[n]
        _ingest(http, path, receipts, rows[n * share : (n + 1) * share])

    try:
        elapsed = run_together(clients, work)
    finally:
        for http, _, _ in opened:
            http.close()
    return min(len(rows), share * clients) / elapsed


def read_latency(url: str, token: str, requests: int, rate: float) -> tuple[float, float]:
    """p50/p99 (ms) of session-history reads sent at `rate` requests/s (open loop: a slow
    answer does not delay the next request's scheduled time, so queueing shows)."""
    with _client(url, token) as http:
        rid = _post(http, "/v1/registrations", {"product": "bench", "file_id": "reads"})["id"]
        last = {"position": 0}
        for _ in range(20):
            sid = _post(http, f"/v1/registrations/{rid}/sessions", {"sync_type": "time"})["id"]
            _post(
                http,
                f"/v1/registrations/{rid}/sessions/{sid}/records",
                {"records": [{"entity_type": "T", "key": "k", "digest": sid}]},
            )
            last = _post(http, f"/v1/registrations/{rid}/sessions/{sid}/complete", {})
        http.get(
            f"/v1/registrations/{rid}/sessions", params={"min_position": last["position"]}
        ).raise_for_status()
        for _ in range(10):  # warm up
            http.get(f"/v1/registrations/{rid}/sessions").raise_for_status()
        samples = []
        interval = 1.0 / rate
        next_at = time.perf_counter()
        for _ in range(requests):
            now = time.perf_counter()
            if now < next_at:
                time.sleep(next_at - now)
            next_at += interval
            started = time.perf_counter()
            http.get(f"/v1/registrations/{rid}/sessions").raise_for_status()
            samples.append((time.perf_counter() - started) * 1000)
    return percentile(samples, 50), percentile(samples, 99)


# --- the suite --------------------------------------------------------------------------------


def _backend(
    kind: str,
    url: str,
    token: str,
    rows: Sequence[Row],
    clients: int,
    reads: int,
    rate: float,
    raw: float,
    raw_name: str,
) -> list[Result]:
    # The same rows as the raw baseline; each run has its own registrations, so no duplicates.
    # One client's 40 batches take ~0.4 s, the first of them on a server just started: the
    # median of three rounds (77k-119k records/s in single rounds on SQLite, one build).
    one = statistics.median(ingest_rate(url, token, rows, 1, f"one-{r}") for r in range(3))
    many = ingest_rate(url, token, rows, clients, "many")
    p50, p99 = read_latency(url, token, reads, rate)
    target = TARGET[kind]
    n = len(rows)
    return [
        Result(
            "http",
            f"ingest {n:,}, 1 client, until receipts readable ({kind})",
            one,
            "records/s",
            raw_name,
            raw,
            f">= {target:,}",
            one >= target,
        ),
        Result(
            "http",
            f"ingest {n:,}, {clients} clients, until receipts readable ({kind})",
            many,
            "records/s",
            raw_name,
            raw,
            f">= {target:,}",
            many >= target,
        ),
        Result("http", f"session history p50 at {rate:g} req/s ({kind})", p50, "ms"),
        Result(
            "http",
            f"session history p99 at {rate:g} req/s ({kind})",
            p99,
            "ms",
            target=f"<= {READ_P99_TARGET_MS:g} ms",
            met=p99 <= READ_P99_TARGET_MS,
        ),
    ]


def run(
    quick: bool = True,
    records: int | None = None,
    clients: int = 4,
    reads: int | None = None,
    rate: float = 200.0,
    postgres: str | None = None,
) -> list[Result]:
    records = records or (40_000 if quick else 200_000)
    reads = reads or (1_000 if quick else 4_000)
    rows = make_records(records, prefix="http")
    results: list[Result] = []
    raw = raw_sqlite_executemany(rows, batch=BATCH)
    with tempfile.TemporaryDirectory() as tmp, serve(Path(tmp)) as (url, token):
        results += _backend(
            "sqlite", url, token, rows, clients, reads, rate, raw, "raw sqlite3.executemany"
        )
    pg = served.postgres_url(postgres)
    if pg is not None:
        with served.pg_schema(pg, "bench_http") as (schema_url, conninfo, schema):
            raw = raw_postgres_copy(conninfo, schema, rows)
            with tempfile.TemporaryDirectory() as tmp, serve(Path(tmp), schema_url) as (url, token):
                results += _backend(
                    "postgresql", url, token, rows, clients, reads, rate, raw, "raw psycopg COPY"
                )
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=None, help="default 40,000 (--full 200k)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--reads", type=int, default=None)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--full", action="store_true")
    parser.add_argument(
        "--postgres",
        default=None,
        help='PostgreSQL URL ("" to skip; default: reachable test server)',
    )
    args = parser.parse_args(argv)
    for r in run(
        quick=not args.full,
        records=args.records,
        clients=args.clients,
        reads=args.reads,
        rate=args.rate,
        postgres=args.postgres,
    ):
        ratio = f"  ({r.ratio:.3f} × {r.baseline_name} {r.baseline_value:,.0f})" if r.ratio else ""
        met = "" if r.met is None else (" met" if r.met else " MISSED")
        print(f"{r.name:<66} {r.value:>10,.1f} {r.unit:<9} {r.target}{met}{ratio}")


if __name__ == "__main__":
    main()
