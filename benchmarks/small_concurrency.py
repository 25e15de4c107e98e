"""Concurrent small writes, and what the writers spend their time on while they run.

`write_cycles_rate`: small writes/s from N keep-alive clients, each on its own registration
(per cycle: start, error, complete). `Watch`: while it runs, the CPU the served processes
use (from /proc: the API process and its runner child, as a share of one core) and, on
PostgreSQL, what the server's active backends wait on (pg_stat_activity sampled every
5 ms): the lock that keeps the log's positions in commit order (Lock/relation), the WAL
flush of a commit (IO/WALSync, LWLock/WALWrite), or nothing (on the CPU). Issue 16 asks what
serialises concurrent writers; these figures answer it on the machine at hand.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import Counter
from typing import Any

from benchmarks.common import run_together
from benchmarks.small_client import Api, register, start

LOG_LOCK = ("Lock", "relation")
WAL_FLUSH = {("IO", "WALSync"), ("IO", "WALWrite"), ("LWLock", "WALWrite")}


def write_cycles_rate(base: str, token: str, clients: int, cycles: int) -> float:
    """Small writes/s from `clients` concurrent clients, each on its own registration: per
    cycle start, error, complete (3 writes)."""
    apis = [Api(base, token) for _ in range(clients)]
    tag = uuid.uuid4().hex[:8]
    rids = [register(api, f"conc-{tag}-{n}") for n, api in enumerate(apis)]

    def work(n: int) -> None:
        api, rid = apis[n], rids[n]
        for _ in range(cycles):
            sid = start(api, rid, "full")
            base_path = f"/v1/registrations/{rid}/sessions/{sid}"
            api.post(f"{base_path}/errors", {"message": "bench"})
            api.post(f"{base_path}/complete", {})

    try:
        elapsed = run_together(clients, work)
    finally:
        for api in apis:
            api.close()
    return clients * cycles * 3 / elapsed


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


class Watch:
    """CPU of the served processes and (PostgreSQL) backend wait events, while it runs."""

    def __init__(self, pid: int, conninfo: str | None) -> None:
        self.pid, self.conninfo = pid, conninfo
        self.waits: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.cpu: dict[str, float] = {}

    def __enter__(self) -> Watch:
        self._kids = _children(self.pid)
        self._cpu0 = (_cpu_seconds(self.pid), sum(_cpu_seconds(k) for k in self._kids))
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
        api = _cpu_seconds(self.pid) - self._cpu0[0]
        runners = sum(_cpu_seconds(k) for k in self._kids) - self._cpu0[1]
        self.cpu = {"api": 100 * api / wall, "runners": 100 * runners / wall}

    def _sample(self) -> None:
        import psycopg

        with psycopg.connect(str(self.conninfo), autocommit=True) as conn:
            while not self._stop.wait(0.005):
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
