"""The benchmark suite runs end to end at tiny sizes, so it cannot rot. No timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.__main__ import SUITES


def test_every_suite_runs_and_reports_figures_with_baselines(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--tiny", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = json.loads(out.read_text())
    assert not [r for r in rows if r["name"].startswith("FAILED")]
    groups = {r["group"] for r in rows}
    assert {
        "domain",
        "projections",
        "http",
        "replay",
        "append latency vs log size",
        "deletion of a big session",
        "small",
        "storage",
        "load",
        "lifecycle",
    } <= groups
    assert len(SUITES) == 10
    small = {r["name"] for r in rows if r["group"] == "small"}
    for op in ("register", "start", "complete", "delete stuck session", "read receipts page"):
        assert any(name.startswith(op) for name in small), (op, small)
    assert any(r["group"] == "load" and r["name"].startswith("errors") for r in rows)
    for row in rows:
        assert row["value"] >= 0 and row["unit"], row
        if row["baseline_value"]:
            assert row["ratio"] == row["value"] / row["baseline_value"]
    assert "syncledger benchmarks" in done.stdout
    assert "vs previous" in done.stdout


def test_a_figure_much_worse_than_the_previous_result_is_marked_regressed() -> None:
    from benchmarks.__main__ import compare
    from benchmarks.common import Result

    now = [
        Result("g", "rate", 50.0, "req/s", "health", 100.0),  # ratio 0.5, was 1.0
        Result("g", "bytes", 300.0, "bytes/record", "raw", 100.0),  # ratio 3.0, was 2.0
        Result("g", "steady", 10.0, "ms"),
    ]
    before = [
        {"group": "g", "name": "rate", "value": 90.0, "ratio": 1.0},
        {"group": "g", "name": "bytes", "value": 200.0, "ratio": 2.0},
        {"group": "g", "name": "steady", "value": 10.5, "ratio": None},
    ]
    changes = compare(now, before)
    assert changes["g/rate"] == "-50% REGRESSED"
    assert changes["g/bytes"] == "+50% REGRESSED"
    assert changes["g/steady"] == "-5%"


def test_a_share_in_percent_is_compared_in_points() -> None:
    """The tree's cost during ingest went 0.3 % -> 4.5 % between two runs of one build:
    "+1,396%" relatively, 4.2 points; it regresses past 5 points."""
    from benchmarks.__main__ import compare
    from benchmarks.common import Result

    before = [
        {"group": "g", "name": "cost", "value": 0.3, "ratio": None},
        {"group": "g", "name": "worse", "value": 2.0, "ratio": None},
    ]
    now = [Result("g", "cost", 4.5, "%"), Result("g", "worse", 8.0, "%")]
    changes = compare(now, before)
    assert changes["g/cost"] == "+4.2 pt"
    assert changes["g/worse"] == "+6.0 pt REGRESSED"
