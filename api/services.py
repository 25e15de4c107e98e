"""What a request handler needs: the database, the Ledger, the read models, tokens, chain."""

from __future__ import annotations

from dataclasses import dataclass

from api.auth import TokenStore
from domain.infra.database import Database
from domain.ledger import Ledger
from projections import ReadModels
from projections.interface import ReadModelsProtocol
from replay.chain import ChainFollower


@dataclass
class Services:
    database: Database
    ledger: Ledger
    read_models: ReadModelsProtocol
    tokens: TokenStore
    chain: ChainFollower | None = None


def build_services(database: Database) -> Services:
    """Construct the Ledger on top of the read models (its receipt counter)."""
    read_models = ReadModels(database)
    ledger = Ledger(database=database)
    chain = ChainFollower(database)
    return Services(database, ledger, read_models, TokenStore(database), chain)
