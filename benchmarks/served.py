"""A real `syncledger serve` in a subprocess, with tokens, for the HTTP benchmarks.

Shared by bench_http (bulk ingest), bench_small (small requests) and bench_load (locust):
each gets a fresh SQLite file or a fresh PostgreSQL schema, so runs never see each other.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True)
class Served:
    base: str
    tokens: dict[str, str]  # role -> bearer token
    database_url: str
    pid: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def create_token(env: dict[str, str], role: str) -> str:
    binary = Path(sys.executable).parent / "syncledger"
    created = subprocess.run(
        [str(binary), "tokens", "create", f"bench-{role}-{uuid.uuid4().hex[:6]}", "--role", role],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return created.stdout.strip().splitlines()[-1]


@contextmanager
def serve(
    tmp: Path, url: str | None = None, roles: Sequence[str] = ("worker",)
) -> Iterator[Served]:
    """`syncledger serve` on a free port (fresh SQLite file in `tmp` unless `url`), with one
    token per role; stopped (SIGTERM, then SIGKILL) on exit."""
    binary = Path(sys.executable).parent / "syncledger"
    database_url = url or f"sqlite:///{tmp / 'bench.db'}"
    env = {**os.environ, "SYNCLEDGER_DATABASE_URL": database_url}
    tokens = {role: create_token(env, role) for role in roles}
    port = free_port()
    proc = subprocess.Popen(
        [str(binary), "serve", "--port", str(port)],
        env=env,
        cwd=tmp,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("syncledger serve did not start")
            time.sleep(0.2)
        yield Served(base, tokens, database_url, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def postgres_url(postgres: str | None) -> str | None:
    """The PostgreSQL URL to benchmark, or None when it is not reachable (or "" given)."""
    url = (
        postgres
        if postgres is not None
        else os.environ.get("SYNCLEDGER_BENCH_POSTGRES", DEFAULT_PG)
    )
    if not url:
        return None
    try:
        import psycopg

        from domain.infra.database import Database

        with psycopg.connect(Database.from_url(url).conninfo, connect_timeout=2):
            pass
    except Exception:  # noqa: BLE001 - not reachable: no PostgreSQL figures
        return None
    return url


@contextmanager
def pg_schema(url: str, prefix: str = "bench") -> Iterator[tuple[str, str, str]]:
    """A fresh schema; yields (database url for it, conninfo, schema). Dropped afterwards."""
    import psycopg

    from domain.infra.database import Database

    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    conninfo = Database.from_url(url).conninfo
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        sep = "&" if "?" in url else "?"
        yield f"{url}{sep}schema={schema}", conninfo, schema
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
