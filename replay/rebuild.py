"""Rebuild of read models from position 0: a thin wrapper over `ReadModels.rebuild`.

projections/ rebuilds into shadow tables while the service keeps serving, diffs them
against the live tables and swaps atomically; this module runs it and prints the report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, is_dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from domain.infra.database import Database
from projections import ReadModels, RebuildReport

SAMPLES_SHOWN = 10


def rebuild(
    database: Database,
    names: Sequence[str] = (),
    progress: Callable[[int, int], None] | None = None,
) -> RebuildReport:
    """Rebuild the read models into shadow tables, diff and swap (projections/rebuild.py)."""
    read_models = ReadModels(database)
    try:
        return read_models.rebuild(list(names), progress)
    finally:
        read_models.close()


def as_plain(value: Any) -> Any:
    """Dataclasses and objects with as_dict() become dicts, recursively."""
    if hasattr(value, "as_dict"):
        value = value.as_dict()
    elif is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    if isinstance(value, dict):
        return {str(k): as_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_plain(v) for v in value]
    return value


def _diffs(plain: Any) -> list[tuple[str, dict[str, Any]]]:
    """[(\"view.table\", diff)] from a report {views: {view: {table: diff}}} (or flatter)."""
    views = plain.get("views", plain) if isinstance(plain, dict) else {}
    found: list[tuple[str, dict[str, Any]]] = []
    for view, tables in views.items():
        if not isinstance(tables, dict):
            continue
        if any(k in tables for k in ("only_live", "only_shadow", "differing")):
            found.append((str(view), tables))
            continue
        found += [(f"{view}.{t}", d) for t, d in tables.items() if isinstance(d, dict)]
    return found


def print_report(report: Any, console: Console) -> int:
    """Print the differences per projection table; returns how many rows differed."""
    table = Table(title="rebuild: rebuilt copy vs live copy")
    for column in ("projection.table", "only in live", "only in rebuilt", "differ"):
        table.add_column(column, justify="left" if column.startswith("projection") else "right")
    total = 0
    samples: list[str] = []
    for name, diff in _diffs(as_plain(report)):
        counts = [int(diff.get(k) or 0) for k in ("only_live", "only_shadow", "differing")]
        total += sum(counts)
        table.add_row(name, *map(str, counts))
        for label, keys in (diff.get("examples") or {}).items():
            samples += [f"{name} {label.replace('_', ' ')}: {k}" for k in keys[:SAMPLES_SHOWN]]
    console.print(table)
    for line in samples:
        console.print(line, highlight=False, markup=False)
    position = as_plain(report).get("position") if isinstance(as_plain(report), dict) else None
    if position is not None:
        console.print(f"rebuilt up to position {position}", highlight=False)
    return total
