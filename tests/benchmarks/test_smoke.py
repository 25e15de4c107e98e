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
    } <= groups
    assert len(SUITES) == 6
    for row in rows:
        assert row["value"] >= 0 and row["unit"], row
        if row["baseline_value"]:
            assert row["ratio"] == row["value"] / row["baseline_value"]
    assert "syncledger benchmarks" in done.stdout
