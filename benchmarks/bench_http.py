"""HTTP ingest throughput and session-history read latency against a real `syncledger serve`.

`python -m benchmarks.bench_http [--records N] [--clients N] [--rate R]` prints the figures;
`run(...)` returns them as `Result` rows for `python -m benchmarks`. Printed, not asserted.

- ingest: records/s over HTTP in 1,000-record batches from 1 client and from N clients
  (each its own registration and session), timed until the last batch's receipts are
  readable (`GET …/receipts?min_position=…`), beside the raw sqlite3.executemany rate of
  the same rows in the same run;
- reads: p50/p99 latency of `GET …/sessions` (session history) at a target request rate.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import Result, make_records, percentile, raw_sqlite_executemany

BATCH = 1_000
TINY: dict[str, Any] = {"records": 4_000, "clients": 2, "reads": 40}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(tmp: Path) -> Iterator[tuple[str, str]]:
    """A `syncledger serve` process on a fresh SQLite file; yields (url, support token)."""
    binary = Path(sys.executable).parent / "syncledger"
    env = {**os.environ, "SYNCLEDGER_DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}"}
    created = subprocess.run(
        [str(binary), "tokens", "create", "bench", "--role", "support"],
        env=env, capture_output=True, text=True, check=True,
    )
    token = created.stdout.strip().splitlines()[-1]
    port = _free_port()
    proc = subprocess.Popen(
        [str(binary), "serve", "--port", str(port)], env=env, cwd=tmp,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("syncledger serve did not start")
            time.sleep(0.2)
        yield url, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def _client(url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=120, headers={"Authorization": f"Bearer {token}"})


def _ingest(url: str, token: str, name: str, rows: Sequence[tuple[str, str, str]]) -> int:
    """One client: register, start a session, send every batch; returns the last position."""
    with _client(url, token) as http:
        rid = http.post("/v1/registrations", json={"product": "bench", "file_id": name}).json()[
            "id"
        ]
        sid = http.post(f"/v1/registrations/{rid}/sessions", json={"sync_type": "full"}).json()[
            "id"
        ]
        position = 0
        for i in range(0, len(rows), BATCH):
            body = {"records": [{"entity_type": e, "key": k, "digest": d}
                                for e, k, d in rows[i : i + BATCH]]}
            r = http.post(f"/v1/registrations/{rid}/sessions/{sid}/records", json=body)
            r.raise_for_status()
            position = r.json()["position"]
        # receipts readable: the read models have processed the last batch
        r = http.get(f"/v1/registrations/{rid}/receipts",
                     params={"min_position": position, "wait_s": 60, "limit": 1})
        r.raise_for_status()
        return rid  # type: ignore[no-any-return]


def ingest_rate(url: str, token: str, rows: Sequence[tuple[str, str, str]], clients: int,
                tag: str) -> float:
    share = max(BATCH, len(rows) // clients)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            _ingest(url, token, f"{tag}-{n}", rows[n * share : (n + 1) * share])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return min(len(rows), share * clients) / elapsed


def read_latency(url: str, token: str, requests: int, rate: float) -> tuple[float, float]:
    """p50/p99 (ms) of session-history reads sent at `rate` requests/s."""
    with _client(url, token) as http:
        rid = http.post("/v1/registrations", json={"product": "bench", "file_id": "reads"}).json()[
            "id"
        ]
        for _ in range(20):
            sid = http.post(f"/v1/registrations/{rid}/sessions", json={"sync_type": "time"}).json()
            http.post(f"/v1/registrations/{rid}/sessions/{sid['id']}/records",
                      json={"records": [{"entity_type": "T", "key": "k", "digest": sid["id"]}]})
            last = http.post(f"/v1/registrations/{rid}/sessions/{sid['id']}/complete", json={})
        position = last.json()["position"]
        http.get(f"/v1/registrations/{rid}/sessions", params={"min_position": position})
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


def run(quick: bool = True, records: int | None = None, clients: int = 4, reads: int | None = None,
        rate: float = 50.0) -> list[Result]:
    records = records or (20_000 if quick else 200_000)
    reads = reads or (200 if quick else 2_000)
    rows = make_records(records, prefix="http")
    raw = raw_sqlite_executemany(rows, batch=BATCH)
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp, serve(Path(tmp)) as (url, token):
        one = ingest_rate(url, token, rows, 1, "one")
        many = ingest_rate(url, token, make_records(records, prefix="many"), clients, "many")
        p50, p99 = read_latency(url, token, reads, rate)
    results += [
        Result("http", "ingest, 1 client, until receipts readable", one, "records/s",
               "raw sqlite3.executemany", raw),
        Result("http", f"ingest, {clients} clients, until receipts readable", many, "records/s",
               "raw sqlite3.executemany", raw),
        Result("http", f"session history p50 at {rate:g} req/s", p50, "ms"),
        Result("http", f"session history p99 at {rate:g} req/s", p99, "ms"),
    ]
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--rate", type=float, default=50.0)
    args = parser.parse_args(argv)
    for r in run(records=args.records, clients=args.clients, reads=args.reads, rate=args.rate):
        ratio = f"  ({r.ratio:.2f} × {r.baseline_name} {r.baseline_value:,.0f})" if r.ratio else ""
        print(f"{r.name:<50} {r.value:>12,.1f} {r.unit}{ratio}")


if __name__ == "__main__":
    main()
