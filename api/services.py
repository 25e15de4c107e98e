"""What a request handler needs: the database, the Ledger, the read models, tokens, tree."""

from __future__ import annotations

from dataclasses import dataclass

from api.auth import TokenStore
from domain.infra.database import Database
from domain.ledger import Ledger
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


def build_services(database: Database) -> Services:
    """Construct the Ledger on top of the read models (its receipt counter)."""
    read_models = ReadModels(database)
    ledger = Ledger(database=database)
    tree = TreeFollower(database, LogConfig.from_settings())
    return Services(database, ledger, read_models, TokenStore(database), tree)
