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

from domain.storage import Database

SAMPLES_SHOWN = 10


class RebuildUnavailable(RuntimeError):
    pass


def rebuild(
    database: Database,
    names: Sequence[str] = (),
    progress: Callable[[int, int], None] | None = None,
) -> Any:
    """Run `projections.ReadModels(database).rebuild(names, progress)`; returns its report."""
    try:
        from projections import ReadModels  # type: ignore[attr-defined]
    except ImportError:
        raise RebuildUnavailable(
            "the read models (projections.ReadModels) are not available"
        ) from None
    read_models = ReadModels(database)
    method = getattr(read_models, "rebuild", None)
    if method is None:
        raise RebuildUnavailable("projections.ReadModels has no rebuild() in this build")
    try:
        return method(list(names), progress)
    finally:
        close = getattr(read_models, "close", None) or getattr(read_models, "stop", None)
        if callable(close):
            close()


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


def print_report(report: Any, console: Console) -> int:
    """Print the differences per projection; returns how many rows differed in total."""
    plain = as_plain(report)
    views = plain.get("views", plain) if isinstance(plain, dict) else {}
    if isinstance(views, list):
        views = {str(v.get("name", i)): v for i, v in enumerate(views)}
    table = Table(title="rebuild: rebuilt copy vs live copy")
    for column in ("projection", "rows", "only in live", "only in rebuilt", "differ"):
        table.add_column(column, justify="left" if column == "projection" else "right")
    total = 0
    samples: list[tuple[str, str, Any]] = []
    for name, view in views.items():
        if not isinstance(view, dict):
            continue
        counts = []
        for key in ("only_live", "only_rebuilt", "differ"):
            value = view.get(key, view.get(f"{key}_count", 0))
            n = len(value) if isinstance(value, list) else int(value or 0)
            counts.append(n)
            if isinstance(value, list):
                samples += [(name, key, row) for row in value[:SAMPLES_SHOWN]]
        total += sum(counts)
        table.add_row(name, str(view.get("rows", "")), *map(str, counts))
    console.print(table)
    for name, key, row in samples:
        console.print(f"[bold]{name}[/] {key.replace('_', ' ')}: {row}", highlight=False)
    return total
