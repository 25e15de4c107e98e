"""Concurrent small writes, and what the writers spend their time on while they run.

`write_cycles_rate`: small writes/s from N keep-alive clients, each a process of its own on
its own registration (per cycle: start, error, complete). `Watch`: while it runs, the CPU
the served processes use (from /proc: the API process and its runner child, as a share of
one core) and, on
PostgreSQL, what the server's active backends wait on (pg_stat_activity sampled every
5 ms): the lock that keeps the log's positions in commit order (Lock/relation), the WAL
flush of a commit (IO/WALSync, LWLock/WALWrite), or nothing (on the CPU). Issue 16 asks what
serialises concurrent writers; these figures answer it on the machine at hand.
"""

from __future__ import annotations

import http.client
import multiprocessing
import os
import threading
import time
import uuid
from collections import Counter
from typing import Any

import orjson

from benchmarks.small_client import Api, register

LOG_LOCK = ("Lock", "relation")
WAL_FLUSH = {("IO", "WALSync"), ("IO", "WALWrite"), ("LWLock", "WALWrite")}


def write_cycles_rate(base: str, token: str, clients: int, cycles: int) -> float:
    """Small writes/s from `clients` concurrent clients, each on its own registration: per
    cycle start, error, complete (3 writes).

    Each client is a process of its own with one keep-alive `http.client` connection, as
    eight agents are eight processes. Eight httpx clients on threads of this one process
    shared its interpreter lock and spent ~0.9 ms of CPU per request: the client process
    used 40% of a core of this two-core machine and could not issue requests faster than
    one core allows, so the figure measured the load generator as much as the server."""
    apis = [Api(base, token) for _ in range(clients)]
    tag = uuid.uuid4().hex[:8]
    rids = [register(api, f"conc-{tag}-{n}") for n, api in enumerate(apis)]
    for api in apis:
        api.close()
    ctx = multiprocessing.get_context("fork")  # the child runs `_cycles` only
    go = ctx.Barrier(clients + 1)
    spans: Any = ctx.Queue()
    procs = [
        ctx.Process(target=_cycles, args=(base, token, rid, cycles, go, spans)) for rid in rids
    ]
    for proc in procs:
        proc.start()
    try:
        go.wait(timeout=120)
        results = [spans.get(timeout=600) for _ in procs]
    finally:
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
    failed = [r for r in results if isinstance(r, str)]
    if failed:
        raise RuntimeError(failed[0])
    started = min(r[0] for r in results)
    ended = max(r[1] for r in results)
    return clients * cycles * 3 / (ended - started)


def _cycles(base: str, token: str, rid: str, cycles: int, go: Any, spans: Any) -> None:
    """One client process: `cycles` x (start, error, complete) on `rid`, released with the
    others at once; puts (start, end) on `spans` (CLOCK_MONOTONIC, one clock for all
    processes) or the first error's text."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port))
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}

    def post(path: str, body: dict[str, Any]) -> Any:
        conn.request("POST", path, orjson.dumps(body), headers)
        response = conn.getresponse()
        data = response.read()
        if response.status not in (200, 201):
            raise RuntimeError(f"POST {path}: {response.status} {data[:300]!r}")
        return orjson.loads(data)

    try:
        conn.request("GET", "/v1/health")  # the connection is open before the start line
        conn.getresponse().read()
        go.wait(timeout=120)
        started = time.perf_counter()
        for _ in range(cycles):
            sid = post(f"/v1/registrations/{rid}/sessions", {"sync_type": "full"})["id"]
            path = f"/v1/registrations/{rid}/sessions/{sid}"
            post(f"{path}/errors", {"message": "bench"})
            post(f"{path}/complete", {})
        spans.put((started, time.perf_counter()))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
        spans.put(f"{type(exc).__name__}: {exc}")
    finally:
        conn.close()


def _cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    return out


def _machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine, all cores (/proc/stat)."""
    with open("/proc/stat") as f:
        ticks = [int(v) for v in f.readline().split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    hz = os.sysconf("SC_CLK_TCK")
    return (sum(ticks) - idle) / hz, sum(ticks) / hz


def _postgres_pids() -> list[int]:
    """The local PostgreSQL server's processes (backends, WAL writer, checkpointer...)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if f.read().startswith(b"postgres"):
                        out.append(int(entry))
            except OSError:
                continue
    return out


def _clients_cpu() -> float:
    """CPU seconds of this process's children that have ended (the client processes)."""
    times = os.times()
    return times.children_user + times.children_system


class Watch:
    """While it runs: CPU of the served processes, the local PostgreSQL server, the client
    processes and the whole machine, and (PostgreSQL) what the active backends wait on.

    The CPU per write answers whether more concurrency can help: N cores give at most N
    cores' worth of CPU per second, so writes/s cannot pass cores / (CPU per write), and
    against one client (whose write takes 1 / rate of wall time) that is
    cores x (1 / one-client rate) / (CPU per write) - the ceiling `ceiling()` reports."""

    SAMPLE_S = 0.02  # pg_stat_activity every 20 ms: its own cost stays ~1% of a core

    def __init__(self, pid: int, conninfo: str | None) -> None:
        self.pid, self.conninfo = pid, conninfo
        self.waits: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.seconds: dict[str, float] = {}  # CPU seconds, per group, and wall
        self.cores = os.cpu_count() or 1

    def __enter__(self) -> Watch:
        self._kids = _children(self.pid)
        self._pg = _postgres_pids() if self.conninfo else []
        self._cpu0 = (
            _cpu_seconds(self.pid),
            sum(_cpu_seconds(k) for k in self._kids),
            sum(_cpu_seconds(p) for p in self._pg),
            _clients_cpu(),
            _machine_busy()[0],
        )
        self._t0 = time.perf_counter()
        if self.conninfo:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        wall = time.perf_counter() - self._t0
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        pg_now = _postgres_pids() if self.conninfo else []
        self.seconds = {
            "api": _cpu_seconds(self.pid) - self._cpu0[0],
            "runners": sum(_cpu_seconds(k) for k in self._kids) - self._cpu0[1],
            # Backends started meanwhile count from zero.
            "postgresql": sum(_cpu_seconds(p) for p in pg_now) - self._cpu0[2],
            "clients": _clients_cpu() - self._cpu0[3],
            "machine": _machine_busy()[0] - self._cpu0[4],
            "wall": wall,
        }

    @property
    def cpu(self) -> dict[str, float]:
        """Each group's CPU as a share of one core (%), over the watch's wall time."""
        wall = self.seconds["wall"]
        return {name: 100 * value / wall for name, value in self.seconds.items() if name != "wall"}

    def per_write(self, writes: int) -> str:
        """Where the machine's CPU went, per write, and how busy it was."""
        s = self.seconds
        parts = [f"{name} {1000 * s[name] / writes:.2f}" for name in ("api", "runners")]
        if self.conninfo:
            parts.append(f"PostgreSQL {1000 * s['postgresql'] / writes:.2f}")
        parts.append(f"clients {1000 * s['clients'] / writes:.2f}")
        busy = 100 * s["machine"] / (s["wall"] * self.cores)
        return (
            f"machine {busy:.0f}% busy ({self.cores} cores), "
            f"{1000 * s['machine'] / writes:.2f} ms of CPU per write ({', '.join(parts)})"
        )

    def ceiling(self, writes: int, one_client_rate: float) -> float:
        """The most these cores allow against one client, at this CPU per write."""
        per_write = self.seconds["machine"] / writes
        return self.cores / one_client_rate / per_write if per_write else 0.0

    def _sample(self) -> None:
        import psycopg

        with psycopg.connect(str(self.conninfo), autocommit=True) as conn:
            while not self._stop.wait(self.SAMPLE_S):
                rows = conn.execute(
                    "SELECT wait_event_type, wait_event FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND state = 'active' AND backend_type = 'client backend'"
                ).fetchall()
                for kind, event in rows:
                    if (kind, event) == LOG_LOCK:
                        self.waits["log lock"] += 1
                    elif (kind, event) in WAL_FLUSH:
                        self.waits["WAL flush"] += 1
                    elif kind is None:
                        self.waits["on CPU"] += 1
                    else:
                        self.waits[f"{kind}/{event}"] += 1

    def wait_shares(self) -> str:
        total = sum(self.waits.values())
        if not total:
            return ""
        parts = [f"{name} {100 * n / total:.0f}%" for name, n in self.waits.most_common(4)]
        return "active backends: " + ", ".join(parts)
