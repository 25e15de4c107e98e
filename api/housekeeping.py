"""serve's background tasks, beside the view runners: webhook delivery, and the time-based
rules (stuck flagging, self-healing, approval expiry).

They run in serve's background work (api/background.py: a thread, or the child process),
never in a request, so a slow webhook receiver or a big scan never slows ingest. Every task
takes its time from an injectable clock, and `run_once()` does one full round
synchronously, which is how the tests drive them (no sleeping).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from api.settings import Settings, get_settings
from api.webhooks.delivery import Deliverer
from api.webhooks.store import WebhookStore
from domain.infra.database import Database
from domain.liveness import system_clock

log = logging.getLogger("syncledger.housekeeping")

Task = Callable[[], Any]


@dataclass
class Housekeeping:
    database: Database
    settings: Settings = field(default_factory=get_settings)
    clock: Callable[[], datetime] = system_clock
    webhooks: WebhookStore | None = None
    # With both, the time-based tasks of api/lifecycle_tasks.py run too.
    ledger: Any = None
    read_models: Any = None
    # Time-based tasks (stuck flagging, self-healing, expiry) run every
    # housekeeping_interval_seconds; webhook delivery every webhook_poll_seconds.
    periodic: list[tuple[str, Task]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._owns_webhooks = self.webhooks is None
        self.webhook_store = self.webhooks or WebhookStore(self.database)
        self.deliverer = Deliverer(self.webhook_store, self.settings, self.clock)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_periodic = float("-inf")
        if self.ledger is not None and self.read_models is not None:
            from api.lifecycle_tasks import install

            install(self.add, self.ledger, self.read_models, self.clock)

    def add(self, name: str, task: Task) -> None:
        self.periodic.append((name, task))

    def run_once(self, *, periodic: bool = True) -> dict[str, Any]:
        """One round: send webhooks, then (if asked) every time-based task."""
        out: dict[str, Any] = {"webhooks": self._guard("webhooks", self.deliverer.run_once)}
        if periodic:
            for name, task in self.periodic:
                out[name] = self._guard(name, task)
        return out

    @staticmethod
    def _guard(name: str, task: Task) -> Any:
        try:
            return task()
        except Exception:  # noqa: BLE001 - one failing task must not stop the others
            log.exception("background task %s failed; it runs again next round", name)
            return None

    # --- the loop ------------------------------------------------------------------------

    def notify(self, _position: int = 0) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="housekeeping", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            due = (
                time.monotonic() - self._last_periodic
                >= self.settings.housekeeping_interval_seconds
            )
            if due:
                self._last_periodic = time.monotonic()
            self.run_once(periodic=due)
            # Woken when the views commit a page (api/background.py): the outbox reads only
            # what the sessions view has processed, so that is when it has news. (It was
            # woken by each save and looked again 10, 20 and 50 ms later for the views.)
            self._wake.wait(self.settings.webhook_poll_seconds)

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self.settings.webhook_timeout_seconds + 5)
            self._thread = None

    def close(self) -> None:
        self.stop()
        self.deliverer.close()
        if self._owns_webhooks:
            self.webhook_store.close()
