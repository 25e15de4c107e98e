"""Fixtures: a Ledger and ReadModels on the same (fresh) database, on both backends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from domain import Context, Database, Ledger
from projections import ReadModels


@pytest.fixture
def ledger(database: Database) -> Iterator[Ledger]:
    ledger = Ledger(database=database)
    yield ledger
    ledger.close()


@pytest.fixture
def models(database: Database, ledger: Ledger) -> Iterator[ReadModels]:
    read_models = ReadModels(database)
    ledger.on_saved(read_models.notify)
    yield read_models
    read_models.close()


@pytest.fixture
def ctx() -> Context:
    return Context("alice", "corr-1")
