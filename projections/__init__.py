"""Read models built from the event log: `ReadModels(database)` (see interface.py)."""

from projections.interface import Page, ReadModelsProtocol, Scope
from projections.read_models import ReadModels
from projections.rebuild import RebuildReport, TableDiff
from projections.runner import run_forever

__all__ = [
    "Page",
    "ReadModels",
    "ReadModelsProtocol",
    "RebuildReport",
    "Scope",
    "TableDiff",
    "run_forever",
]
