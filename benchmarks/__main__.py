"""One command measures every performance target: `python -m benchmarks [--full] [--only NAME]`.

Prints one table (each figure beside its baseline from the same run, and the ratio) and
writes it as JSON to benchmarks/results/<timestamp>.json so two runs can be compared.

Regression marker: each figure is also compared with the same figure of a stored previous
result (benchmarks/results/baseline.json, committed; `--previous FILE` for another one).
The comparison uses the figure's ratio to its same-run baseline when it has one (the machine
may be busier or idler than last time; the ratio cancels that out), else the raw value; a
figure more than 25% worse than before is marked REGRESSED. `--save-baseline` stores this
run as the new previous result.
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
    "bench_small",
    "bench_storage",
    "bench_load",
    "bench_lifecycle",
]
RESULTS_DIR = Path(__file__).parent / "results"
BASELINE = RESULTS_DIR / "baseline.json"
REGRESSION_TOLERANCE = 0.25
PERCENT_POINTS_TOLERANCE = 5.0  # a share in % regresses by points, not relatively
# Units where a smaller figure is better; every other unit is a rate (bigger is better).
LOWER_IS_BETTER = ("ms", "bytes/record", "MB", "s", "%", "errors")


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


def _comparable(row: dict[str, Any]) -> float | None:
    """The figure two runs are compared on: the ratio to its same-run baseline if any."""
    ratio = row.get("ratio")
    if ratio:
        return float(ratio)
    value = row.get("value")
    return float(value) if value else None


def compare(results: list[Result], previous: list[dict[str, Any]]) -> dict[str, str]:
    """{figure name: "+12%" or "-40% REGRESSED"} against the previous run's same figures."""
    before = {(r["group"], r["name"]): r for r in previous}
    out: dict[str, str] = {}
    for r in results:
        old = before.get((r.group, r.name))
        if old is None or r.unit == "note":
            continue
        if r.unit == "%":
            # A share (e.g. the tree's cost during ingest, 0-10 %): compared in points, as
            # a relative change of a figure near zero is noise (0.3 % -> 4.5 % is "+1,400%").
            points = r.value - float(old.get("value") or 0)
            worse = points > PERCENT_POINTS_TOLERANCE
            out[f"{r.group}/{r.name}"] = f"{points:+.1f} pt" + (" REGRESSED" if worse else "")
            continue
        then, now = _comparable(old), _comparable(r.as_dict())
        if not then or now is None:
            continue
        change = now / then - 1
        # A ratio to "health" or "raw" is better when bigger, except for ms/bytes figures
        # whose baseline is itself a cost (e.g. support's list ms): smaller is better there.
        worse = (
            change > REGRESSION_TOLERANCE
            if r.unit in LOWER_IS_BETTER
            else (change < -REGRESSION_TOLERANCE)
        )
        out[f"{r.group}/{r.name}"] = f"{change:+.0%}" + (" REGRESSED" if worse else "")
    return out


def load_previous(path: Path | None) -> list[dict[str, Any]]:
    path = path or BASELINE
    if not path.exists():
        return []
    data: list[dict[str, Any]] = json.loads(path.read_text())
    return data


def print_table(results: list[Result], changes: dict[str, str] | None = None) -> None:
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
        "vs previous",
        "detail",
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
            (changes or {}).get(f"{r.group}/{r.name}", ""),
            r.detail,
        )
    Console(width=260).print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--full", action="store_true", help="full sizes (1M receipts, 100k sessions, 10M records)"
    )
    parser.add_argument("--only", action="append", choices=SUITES, help="run only these suites")
    parser.add_argument("--tiny", action="store_true", help="smoke-test sizes (used by the tests)")
    parser.add_argument("--out", type=Path, default=None, help="JSON output file")
    parser.add_argument(
        "--previous", type=Path, default=None, help=f"previous result (default {BASELINE})"
    )
    parser.add_argument(
        "--save-baseline", action="store_true", help=f"store this run as {BASELINE}"
    )
    args = parser.parse_args(argv)
    results = run_suites(args.only or SUITES, quick=not args.full, tiny=args.tiny)
    changes = compare(results, load_previous(args.previous))
    print_table(results, changes)
    regressed = sorted(name for name, change in changes.items() if "REGRESSED" in change)
    if regressed:
        print(f"{len(regressed)} figure(s) REGRESSED against the previous result:")
        for name in regressed:
            print(f"  {name}: {changes[name]}")
    out = args.out or RESULTS_DIR / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps([r.as_dict() for r in results], indent=2)
    out.write_text(payload)
    print(f"results written to {out}")
    if args.save_baseline:
        BASELINE.write_text(payload)
        print(f"stored as the previous result for the next run: {BASELINE}")
    return 1 if any(r.name.startswith("FAILED") for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
