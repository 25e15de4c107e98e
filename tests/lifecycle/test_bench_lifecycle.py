"""The lifecycle benchmark runs end to end at a tiny size (no timing is asserted)."""

from __future__ import annotations

from benchmarks import bench_lifecycle


def test_lifecycle_benchmark_runs_and_reports() -> None:
    rows = bench_lifecycle.run(**bench_lifecycle.TINY)
    names = [r.name for r in rows]
    assert any(n.startswith("first round") for n in names)
    assert any(n.startswith("steady round") for n in names)
    assert sum(n.startswith("webhook delivery latency") for n in names) == 2
    assert all(r.value >= 0 and r.unit == "ms" for r in rows)
