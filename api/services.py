"""What a request handler needs: the database, the Ledger, the read models, tokens, chain."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from api.auth import TokenStore
from domain.infra.database import Database
from domain.ledger import Ledger
from projections.interface import ReadModelsProtocol


@dataclass
class Services:
    database: Database
    ledger: Ledger
    read_models: ReadModelsProtocol
    tokens: TokenStore
    chain: Any | None = None


def build_services(database: Database) -> Services:
    """Construct the Ledger on top of the read models (its receipt counter)."""
    from projections import ReadModels  # type: ignore[attr-defined]

    read_models = ReadModels(database)
    ledger = Ledger(database=database, receipt_counter=read_models.count_receipts)
    chain = None
    try:
        from replay.chain import ChainFollower  # type: ignore[import-not-found]
    except ImportError:
        ChainFollower = None  # noqa: N806
    if ChainFollower is not None:
        chain = ChainFollower(database)
    return Services(database, ledger, read_models, TokenStore(database), chain)
