"""Background runners: catch up, then follow the log live.

SQLite: a pull loop woken by `notify()` (plus a short poll, to see other processes'
writes). PostgreSQL: LISTEN on the events table's channel (plus the same fallback poll).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

from domain.infra.database import Database

log = logging.getLogger(__name__)
POLL_SECONDS = 0.5


class Runner:
    def __init__(self, kind: str, step: Callable[[], int], listen: Callable[[], Any]) -> None:
        self.kind = kind
        self.step = step
        self.listen = listen
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        if self.thread is not None and self.thread.is_alive():
            return
        self.stopping.clear()
        target = self._pg_loop if self.kind == "postgresql" else self._pull_loop
        self.thread = threading.Thread(target=target, name="projections", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        if self.thread is not None:
            self.thread.join(timeout=10)
            self.thread = None

    def _safe_step(self) -> None:
        try:
            self.step()
        except Exception:
            log.exception("projection runner failed a page; retrying")
            self.stopping.wait(POLL_SECONDS)

    def _pull_loop(self) -> None:
        while not self.stopping.is_set():
            self.wake.clear()
            self._safe_step()
            self.wake.wait(POLL_SECONDS)

    def _pg_loop(self) -> None:
        conn = None
        while not self.stopping.is_set():
            try:
                if conn is None:
                    conn = self.listen()
                self._safe_step()
                for _ in conn.notifies(timeout=POLL_SECONDS, stop_after=1):
                    pass
            except Exception:
                log.exception("projection listener lost its connection; reconnecting")
                if conn is not None:
                    conn.close()
                conn = None
                self.stopping.wait(POLL_SECONDS)
        if conn is not None:
            conn.close()


def run_forever(database: Database) -> None:
    """`syncledger projections run`: the runners alone, until SIGINT/SIGTERM."""
    from projections.read_models import ReadModels

    models = ReadModels(database)
    done = threading.Event()

    def _stop(*_: Any) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    models.start()
    try:
        done.wait()
    finally:
        models.stop()
