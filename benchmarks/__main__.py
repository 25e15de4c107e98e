"""One command measures every performance target: `python -m benchmarks [--full] [--only NAME]`.

Prints one table (each figure beside its baseline from the same run, and the ratio) and
writes it as JSON to benchmarks/results/<timestamp>.json so two runs can be compared.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks.common import Result

SUITES = [
    "bench_domain",
    "bench_projections",
    "bench_http",
    "bench_replay",
    "bench_growth",
    "bench_deletion",
]
RESULTS_DIR = Path(__file__).parent / "results"


def as_result(suite: str, row: Any) -> Result:
    if isinstance(row, Result):
        return row
    known = {f.name for f in fields(Result)}
    data = {k: v for k, v in dict(row).items() if k in known}
    data.setdefault("group", suite)
    data.setdefault("unit", "")
    return Result(**data)


def run_suites(names: list[str], quick: bool, tiny: bool = False) -> list[Result]:
    results: list[Result] = []
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        started = time.perf_counter()
        kwargs: dict[str, Any] = {"quick": quick}
        if tiny and hasattr(module, "TINY"):
            kwargs.update(module.TINY)
        try:
            rows = module.run(**kwargs)
        except Exception:  # a broken suite must not hide the others' figures
            traceback.print_exc()
            results.append(Result(group=name, name="FAILED (see traceback)", value=0, unit=""))
            continue
        results += [as_result(name, row) for row in rows]
        print(f"  {name}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return results


def print_table(results: list[Result]) -> None:
    table = Table(title="syncledger benchmarks")
    for column in (
        "group",
        "figure",
        "value",
        "baseline",
        "baseline value",
        "ratio",
        "target",
        "met",
    ):
        table.add_column(
            column, justify="right" if column in ("value", "baseline value", "ratio") else "left"
        )
    for r in results:
        table.add_row(
            r.group,
            r.name,
            f"{r.value:,.2f} {r.unit}",
            r.baseline_name,
            "" if r.baseline_value is None else f"{r.baseline_value:,.2f}",
            "" if r.ratio is None else f"{r.ratio:.2f}",
            r.target,
            {True: "yes", False: "NO", None: ""}[r.met],
        )
    Console(width=200).print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--full", action="store_true", help="full sizes (1M receipts, 100k sessions, 10M records)"
    )
    parser.add_argument("--only", action="append", choices=SUITES, help="run only these suites")
    parser.add_argument("--tiny", action="store_true", help="smoke-test sizes (used by the tests)")
    parser.add_argument("--out", type=Path, default=None, help="JSON output file")
    args = parser.parse_args(argv)
    results = run_suites(args.only or SUITES, quick=not args.full, tiny=args.tiny)
    print_table(results)
    out = args.out or RESULTS_DIR / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps([r.as_dict() for r in results], indent=2))
    print(f"results written to {out}")
    return 1 if any(r.name.startswith("FAILED") for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
