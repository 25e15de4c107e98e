"""Shared helpers for the lifecycle tests: a movable clock, a real HTTP receiver, an app
whose background work the test drives itself (no threads, no sleeping)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from api.housekeeping import Housekeeping
from api.settings import Settings
from domain.infra.database import Database


class Clock:
    """Real time plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """A local HTTP server that answers webhook POSTs with the statuses it is told to."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered in turn, then 200
    delay: float = 0.0

    def answer(self) -> int:
        return self.statuses.pop(0) if self.statuses else 200


@contextmanager
def receiver(port: int = 0) -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            if state.delay:
                time.sleep(state.delay)
            state.received.append(
                Received({k.lower(): v for k, v in self.headers.items()}, body, time.time())
            )
            code = state.answer()
            self.send_response(code)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


ROLES = {"worker": "agent", "support": "jx-admin", "support2": "second-admin", "auditor": "audit"}


class Driven:
    """The app with background work off: the test runs views and housekeeping rounds."""

    def __init__(
        self,
        database: Database,
        clock: Clock,
        tokens: dict[str, str] | None = None,
        **settings: Any,
    ) -> None:
        self.database = database
        self.clock = clock
        self.app = create_app(database, start_background=False)
        self.services = self.app.state.services
        self.services.clock = clock
        self.services.read_models.clock = clock  # "stuck" in reads follows the same clock
        # The views follow the log as in serve (writes answer from them); housekeeping
        # does not run on its own: the test runs its rounds.
        self.services.read_models.start()
        self.services.ledger.on_saved(self.services.read_models.notify)
        self.tokens = tokens or {
            role: self.services.tokens.create(name, "support" if role == "support2" else role)
            for role, name in ROLES.items()
        }
        self.client = TestClient(self.app)
        self.client.__enter__()
        self.settings = Settings(**{"webhook_retry_base_seconds": 5.0, **settings})
        self.housekeeping = self.new_housekeeping()

    def new_housekeeping(self) -> Housekeeping:
        return Housekeeping(
            self.database,
            settings=self.settings,
            clock=self.clock,
            webhooks=self.services.webhooks,
            ledger=self.services.ledger,
            read_models=self.services.read_models,
        )

    def h(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def get(self, path: str, role: str = "support", **kw: Any) -> Any:
        return self.client.get(path, headers=self.h(role), **kw)

    def post(self, path: str, role: str = "support", **kw: Any) -> Any:
        return self.client.post(path, headers=self.h(role), **kw)

    def patch(self, path: str, role: str = "support", **kw: Any) -> Any:
        return self.client.patch(path, headers=self.h(role), **kw)

    def delete(self, path: str, role: str = "support", **kw: Any) -> Any:
        return self.client.delete(path, headers=self.h(role), **kw)

    def settle(self) -> None:
        """Let the views catch up with everything recorded."""
        head = self.services.ledger.current_position()
        assert self.services.read_models.wait_for(head, 10.0)

    def tick(self) -> dict[str, Any]:
        """One background round: views, then housekeeping, then views again."""
        self.settle()
        out = self.housekeeping.run_once()
        self.settle()
        return out

    def register(self, file_id: str = "acme.qbw", **extra: Any) -> str:
        r = self.post(
            "/v1/registrations",
            role="worker",
            json={"product": "accountlink-quickbooks", "file_id": file_id, **extra},
        )
        assert r.status_code in (200, 201), r.text
        self.settle()  # writes answer at once; the tests read right after
        return str(r.json()["id"])

    def start(self, rid: str, sync_type: str = "time") -> str:
        r = self.post(
            f"/v1/registrations/{rid}/sessions",
            role="worker",
            json={"sync_type": sync_type, "worker": "SRV-01"},
        )
        assert r.status_code in (200, 201), r.text
        self.settle()
        return str(r.json()["id"])

    def close(self) -> None:
        self.housekeeping.close()
        self.client.__exit__(None, None, None)
        self.services.read_models.close()
