"""What a request handler needs: the database, the Ledger, the read models, tokens, tree."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from api.auth import TokenStore
from api.console_sessions import ConsoleSessions
from api.settings import get_settings, service_clock
from api.webhooks.store import WebhookStore
from domain.infra.database import Database
from domain.ledger import Ledger
from domain.liveness import system_clock
from projections import ReadModels
from projections.interface import ReadModelsProtocol
from replay.treelog import LogConfig, TreeFollower


@dataclass
class Services:
    database: Database
    ledger: Ledger
    read_models: ReadModelsProtocol
    tokens: TokenStore
    tree: TreeFollower
    # Time for time-based rules (stuck, self-healing, approval expiry): tests replace it.
    clock: Callable[[], datetime] = system_clock
    _webhooks: WebhookStore | None = field(default=None, repr=False)
    _console_sessions: ConsoleSessions | None = field(default=None, repr=False)

    @property
    def webhooks(self) -> WebhookStore:
        """Webhook subscriptions and their outbox (tables made on first use)."""
        if self._webhooks is None:
            self._webhooks = WebhookStore(self.database)
        return self._webhooks

    @property
    def console_sessions(self) -> ConsoleSessions:
        """The console's sign-in sessions (issue 11, finding 3), on the service's clock."""
        if self._console_sessions is None:
            self._console_sessions = ConsoleSessions(
                self.tokens, lambda: self.clock(), get_settings()
            )
        return self._console_sessions

    def close(self) -> None:
        self.tokens.close()
        if self._webhooks is not None:
            self._webhooks.close()


def build_services(database: Database) -> Services:
    """Construct the Ledger on top of the read models (its receipt counter)."""
    read_models = ReadModels(database)
    ledger = Ledger(database=database)
    tree = TreeFollower(database, LogConfig.from_settings())
    services = Services(database, ledger, read_models, TokenStore(database), tree)
    services.clock = service_clock()
    if services.clock is not system_clock:
        read_models.clock = services.clock  # "stuck" in reads follows the shifted clock
    # Rule 17's expiry reads the same clock as the rest of the service (tests move it).
    ledger.clock = lambda: services.clock()
    return services
