"""What a request handler needs: the database, the Ledger, the read models, tokens, chain."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from api.auth import TokenStore
from api.webhooks.store import WebhookStore
from domain.ledger import Ledger
from domain.liveness import system_clock
from domain.storage import Database
from projections.interface import ReadModelsProtocol


@dataclass
class Services:
    database: Database
    ledger: Ledger
    read_models: ReadModelsProtocol
    tokens: TokenStore
    chain: Any | None = None
    # Time for time-based rules (stuck, self-healing, approval expiry): tests replace it.
    clock: Callable[[], datetime] = system_clock
    _webhooks: WebhookStore | None = field(default=None, repr=False)

    @property
    def webhooks(self) -> WebhookStore:
        """Webhook subscriptions and their outbox (tables made on first use)."""
        if self._webhooks is None:
            self._webhooks = WebhookStore(self.database)
        return self._webhooks

    def close(self) -> None:
        self.tokens.close()
        if self._webhooks is not None:
            self._webhooks.close()


def build_services(database: Database) -> Services:
    """Construct the Ledger on top of the read models (its receipt counter)."""
    from projections import ReadModels  # type: ignore[attr-defined]

    read_models = ReadModels(database)
    ledger = Ledger(database=database)
    chain = None
    try:
        from replay.chain import ChainFollower  # type: ignore[import-not-found]
    except ImportError:
        ChainFollower = None  # noqa: N806
    if ChainFollower is not None:
        chain = ChainFollower(database)
    services = Services(database, ledger, read_models, TokenStore(database), chain)
    # Rule 17's expiry reads the same clock as the rest of the service (tests move it).
    ledger.clock = lambda: services.clock()
    return services
