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
    """Calls and seconds spent per operation.

    With `health` set, each timed call is preceded by one timed `GET /v1/health` on the same
    connection, counted under `paired(op)`: the op's baseline is then measured at the same
    moments as the op itself. This machine's speed drifts by up to 2x within minutes, so a
    health rate taken before or after a burst moved ratios by +-30% between runs; paired,
    the drift divides out (the health call and the op see the same load)."""

    seconds: dict[str, float] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    health: Api | None = None

    @staticmethod
    def paired(op: str) -> str:
        return f"GET /v1/health beside {op}"

    @contextmanager
    def time(self, op: str) -> Iterator[None]:
        if self.health is not None:
            started = time.perf_counter()
            self.health.get("/v1/health")
            self._add(self.paired(op), time.perf_counter() - started)
        started = time.perf_counter()
        yield
        self._add(op, time.perf_counter() - started)

    def _add(self, op: str, seconds: float) -> None:
        self.seconds[op] = self.seconds.get(op, 0.0) + seconds
        self.calls[op] = self.calls.get(op, 0) + 1

    def rate(self, op: str) -> float:
        spent = self.seconds.get(op, 0.0)
        return self.calls.get(op, 0) / spent if spent else 0.0


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
