"""The repository's quality gates stay wired in (issue 15: gates, py.typed, no fallbacks)."""

from __future__ import annotations

import re
from pathlib import Path

from api.auth import TokenStore

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("domain", "projections", "api", "replay")


def test_ci_runs_every_gate_before_the_suite() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    assert "set -euo pipefail" in script  # any failing gate stops CI
    order = [
        "make install",
        ".venv/bin/ruff format --check .",
        ".venv/bin/ruff check .",
        ".venv/bin/mypy",
        "make test",
    ]
    positions = [script.find(step) for step in order]
    assert -1 not in positions, dict(zip(order, positions, strict=True))
    assert positions == sorted(positions)


def test_every_package_ships_py_typed() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    for package in PACKAGES:
        assert (ROOT / package / "py.typed").is_file(), package
        assert re.search(rf'^{package} = \[[^\]]*"py\.typed"', pyproject, re.M), package


def test_pre_commit_runs_the_same_gates() -> None:
    config = (ROOT / ".pre-commit-config.yaml").read_text()
    for entry in (".venv/bin/ruff format", ".venv/bin/ruff check", ".venv/bin/mypy"):
        assert f"entry: {entry}" in config, entry


def test_no_import_error_fallbacks_left_in_the_packages() -> None:
    """Parallel development left `try: import … except ImportError` hedges; they hid breakage."""
    offenders = [
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "except ImportError" in path.read_text()
    ]
    assert offenders == []


def test_token_store_does_not_shadow_the_builtin_list() -> None:
    assert not hasattr(TokenStore, "list")
    assert callable(TokenStore.list_tokens)
