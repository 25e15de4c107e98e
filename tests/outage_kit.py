"""Database faults on demand, for outage tests.

`PgProxy`: a TCP proxy in front of the shared PostgreSQL server that a test cuts (every
connection closed, new ones refused: what clients see when the server stops) and restores,
or arms to cut the moment a client sends a given statement (a connection lost during COMMIT).
The shared server itself is never touched.

`PrivatePostgres`: a server of the test's own, really stopped and started.

`sqlite_page_cap`: every SQLite connection opened meanwhile gets `PRAGMA max_page_count`, the
file's size limit, standing in for a full disk (SQLite answers SQLITE_FULL, as on a full disk).
"""

from __future__ import annotations

import shutil
import socket
import sqlite3
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from domain.infra.database import Database


class PgProxy:
    def __init__(self, target: Database) -> None:
        self.target = (target.host, target.port)
        self.port = 0
        self._listener: socket.socket | None = None
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._cut_on: bytes | None = None
        self.cuts = 0
        self.accepted = 0  # connections opened through the proxy so far
        self._listen()

    def url(self, database: Database) -> str:
        """`database`'s URL, through the proxy."""
        return database.url.replace(f":{database.port}/", f":{self.port}/", 1)

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        deadline = time.monotonic() + 5
        while True:  # the port's last connections may still be closing
            try:
                listener.bind(("127.0.0.1", self.port))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        self.port = listener.getsockname()[1]
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed: the "server" is down
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:  # cut meanwhile: this one goes too
                    _close(client)
                    _close(upstream)
                    return
                self._pairs.append((client, upstream))
                self.accepted += 1
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, from_client: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                pattern = self._cut_on
                if from_client and pattern is not None and pattern in data:
                    self._cut_on = None
                    self.cut()  # the statement never reaches the server
                    return
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            _close(sock)

    def cut(self) -> None:
        """The server is gone: every connection dropped, new ones refused."""
        self.cuts += 1
        with self._lock:
            listener, self._listener = self._listener, None
            pairs, self._pairs = self._pairs, []
        if listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
            except OSError:
                pass
            listener.close()
        for pair in pairs:
            for sock in pair:
                _close(sock)

    def restore(self) -> None:
        """The server is back (on the same port)."""
        if self._listener is None:
            self._listen()

    def cut_when_sent(self, pattern: bytes) -> None:
        """Cut (as `cut`) when a client next sends `pattern`, before it reaches the server."""
        self._cut_on = pattern

    def close(self) -> None:
        self.cut()


def _close(sock: socket.socket) -> None:
    """Reset, not a polite close: the port is free again at once (no FIN_WAIT sockets
    holding it until the other side notices), as after a cut cable or a killed server."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RD)  # wakes the pump thread blocked reading it
    except OSError:
        pass
    sock.close()


@pytest.fixture
def pg_proxy(postgres_database: Database) -> Iterator[tuple[PgProxy, Database]]:
    """A proxy to the test's PostgreSQL schema, and the database as reached through it."""
    proxy = PgProxy(postgres_database)
    try:
        yield proxy, Database.from_url(proxy.url(postgres_database))
    finally:
        proxy.close()


@contextmanager
def sqlite_page_cap(pages: int, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    real = sqlite3.connect

    def capped(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = real(*args, **kwargs)
        conn.execute(f"PRAGMA max_page_count = {int(pages)}")
        return conn

    with monkeypatch.context() as patch:
        patch.setattr(sqlite3, "connect", capped)
        yield


def sqlite_pages(database: Database) -> int:
    conn = sqlite3.connect(database.path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return int(conn.execute("PRAGMA page_count").fetchone()[0])
    finally:
        conn.close()


class PrivatePostgres:
    """A PostgreSQL server of the test's own (initdb as user postgres in a temporary
    directory, a free port) that the test stops and starts: what a real server does to its
    clients when it goes away, and when it comes back."""

    def __init__(self) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        if not found or shutil.which("runuser") is None:
            pytest.skip("no PostgreSQL server binaries (or runuser) to start a private server")
        self.bin = found[-1].parent
        self.dir = Path(tempfile.mkdtemp(prefix="syncledger-pg-"))
        shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._as_postgres(
            "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"
        )

    def _as_postgres(self, tool: str, *args: str) -> None:
        done = subprocess.run(
            ["runuser", "-u", "postgres", "--", str(self.bin / tool), *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr or done.stdout

    @property
    def database(self) -> Database:
        return Database.from_url(f"postgresql://postgres@127.0.0.1:{self.port}/postgres")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.dir / "server.log")
        self._as_postgres("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        self._as_postgres("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        try:
            self.stop()
        except AssertionError:
            pass  # already stopped
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    server.start()
    try:
        yield server
    finally:
        server.remove()
