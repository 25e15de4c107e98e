"""The benchmarks' HTTP client for small requests: a keep-alive client per token, a timer
per operation, and the two calls most figures start with (register, start)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

JSON = {"content-type": "application/json"}


@dataclass
class Timer:
    """Calls and seconds spent per operation, and each operation's own health baseline.

    `baseline(api, *ops)` times a burst of `GET /v1/health` just before the loop that runs
    `ops`, once the views have caught up (the runner idle, as when health is measured
    alone), and counts it under `baseline_of(op)`. This machine's speed drifts by up to 2x
    within minutes, so one health rate for the whole run moved the ratios by +-30% between
    runs; a burst taken next to each loop divides the drift out without letting the loop's
    own background work (the views applying its writes) slow the baseline down."""

    seconds: dict[str, float] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)

    @staticmethod
    def baseline_of(op: str) -> str:
        return f"GET /v1/health before {op}"

    def baseline(self, api: Api, *ops: str, calls: int = 50) -> None:
        settle(api)
        spent = calls / health_rate(api, calls)
        for op in ops:
            self._add(self.baseline_of(op), spent, calls)

    @contextmanager
    def time(self, op: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self._add(op, time.perf_counter() - started, 1)

    def _add(self, op: str, seconds: float, calls: int) -> None:
        self.seconds[op] = self.seconds.get(op, 0.0) + seconds
        self.calls[op] = self.calls.get(op, 0) + calls

    def rate(self, op: str) -> float:
        spent = self.seconds.get(op, 0.0)
        return self.calls.get(op, 0) / spent if spent else 0.0


def health_rate(api: Api, n: int) -> float:
    """`GET /v1/health` calls per second over `n` calls, after one to warm the connection."""
    api.get("/v1/health")
    started = time.perf_counter()
    for _ in range(n):
        api.get("/v1/health")
    return n / (time.perf_counter() - started)


def settle(api: Api, timeout: float = 30.0) -> None:
    """Wait until every view has caught up with the log (health reports no lag)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        views = api.get("/v1/health").get("projections", {})
        if all(int(v.get("lag", 0)) == 0 for v in views.values()):
            return
        time.sleep(0.01)


class Api:
    """A keep-alive client for one token; every call checks its status."""

    def __init__(self, base: str, token: str) -> None:
        self.http = httpx.Client(
            base_url=base, timeout=600, headers={"Authorization": f"Bearer {token}"}
        )

    def post(self, path: str, body: Any, expect: tuple[int, ...] = (200, 201)) -> Any:
        r = self.http.post(path, content=orjson.dumps(body), headers=JSON)
        if r.status_code not in expect:
            raise RuntimeError(f"POST {path}: {r.status_code} {r.text[:300]}")
        return r.json()

    def get(self, path: str, **params: Any) -> Any:
        r = self.http.get(path, params=params)
        if r.status_code != 200:
            raise RuntimeError(f"GET {path}: {r.status_code} {r.text[:300]}")
        return r.json()

    def has_path(self, suffix: str) -> bool:
        paths = self.get("/openapi.json").get("paths", {})
        return any(p.endswith(suffix) for p in paths)

    def close(self) -> None:
        self.http.close()


def register(api: Api, tag: str) -> str:
    return str(api.post("/v1/registrations", {"product": "bench", "file_id": tag})["id"])


def start(api: Api, rid: str, sync_type: str) -> str:
    return str(api.post(f"/v1/registrations/{rid}/sessions", {"sync_type": sync_type})["id"])
