"""Background runners: catch up, then follow the log live.

SQLite: a pull loop woken by `notify()` (plus a short poll, to see other processes'
writes). PostgreSQL: LISTEN on the events table's channel (plus the same fallback poll).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from domain.infra.database import Database

log = logging.getLogger(__name__)
POLL_SECONDS = 0.5
# Saves arriving faster than this share one page: a page costs the same few statements and
# one commit whether it carries one event or fifty, so a page per save made the views cost
# more than the write itself (benchmarks/bench_small.py; docs/architecture.md, "Small
# requests"). A save after a quiet spell is still processed at once; only a stream waits,
# at most this long. 20 ms, not 5: at 5 ms a one-client stream of small writes still made
# a page per two saves and the runner process spent 0.3-0.5 ms of CPU per write, taken from
# the client and the API on a two-core machine; at 20 ms, 0.12-0.16 ms (docs/architecture.md).
MIN_STEP_INTERVAL = 0.02


class Runner:
    def __init__(
        self,
        kind: str,
        step: Callable[[], int],
        listen: Callable[[], Any],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kind = kind
        self.clock = clock
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

    def _coalesce(self, last_step: float) -> None:
        """Wait out the rest of MIN_STEP_INTERVAL since the last step began."""
        pause = MIN_STEP_INTERVAL - (self.clock() - last_step)
        if pause > 0:
            self.stopping.wait(pause)

    def _pull_loop(self) -> None:
        while not self.stopping.is_set():
            self.wake.clear()
            last_step = self.clock()
            self._safe_step()
            if self.wake.wait(POLL_SECONDS):
                self._coalesce(last_step)

    def _pg_loop(self) -> None:
        conn = None
        while not self.stopping.is_set():
            try:
                if conn is None:
                    conn = self.listen()
                last_step = self.clock()
                self._safe_step()
                woken = False
                for _ in conn.notifies(timeout=POLL_SECONDS, stop_after=1):
                    woken = True
                if woken:
                    self._coalesce(last_step)
                    # The saves of the pause each sent a notification: one page reads them
                    # all, so take them off the connection instead of a page per message.
                    for _ in conn.notifies(timeout=0):
                        pass
            except Exception:
                log.exception("projection listener lost its connection; reconnecting")
                if conn is not None:
                    conn.close()
                conn = None
                self.stopping.wait(POLL_SECONDS)
        if conn is not None:
            conn.close()


def run_forever(database: Database, ready: Callable[[], None] | None = None) -> None:
    """`syncledger projections run`: the runners alone, until SIGINT/SIGTERM.

    `ready()` is called once the signals are handled and the runners started (the command
    line announces itself there, so a stop asked right after the announcement is clean)."""
    from projections.read_models import ReadModels

    models = ReadModels(database)
    done = threading.Event()

    def _stop(*_: Any) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    models.start()
    if ready is not None:
        ready()
    try:
        done.wait()
    finally:
        models.stop()
