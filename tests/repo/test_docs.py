"""The documentation lives in the repository and points only inside it (issue 15)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = [
    ROOT / "README.md",
    ROOT / "CONTRIBUTING.md",
    ROOT / "CHANGELOG.md",
    *sorted((ROOT / "docs").glob("*.md")),
]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
CODE_PATH = re.compile(r"`((?:domain|projections|api|replay|tests|benchmarks)/[\w./-]+)")


def test_the_product_docs_exist() -> None:
    for name in ("design.md", "api.md", "architecture.md"):
        assert (ROOT / "docs" / name).is_file(), name
    assert not (ROOT / "docs" / "ARCHITECTURE.md").exists()


def test_nothing_tracked_points_outside_the_repository() -> None:
    outside = ["../" + "shared", "/work/" + "shared"]  # split: this file must not match itself
    found = subprocess.run(
        ["git", "grep", "-n", "-e", outside[0], "-e", outside[1], "--", ".", ":!.ci"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert found.stdout == "", found.stdout


def test_relative_links_resolve() -> None:
    broken = []
    for doc in DOCS:
        for target in LINK.findall(doc.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (doc.parent / target).resolve().exists():
                broken.append(f"{doc.name}: {target}")
    assert broken == []


def test_files_the_docs_name_exist() -> None:
    missing = []
    for doc in DOCS:
        for path in CODE_PATH.findall(doc.read_text()):
            path = path.rstrip(".")
            if "*" in path or "{" in path or path.startswith("benchmarks/results"):
                continue  # patterns, and the benchmarks' output folder (made by `make bench`)
            if not (ROOT / path).exists():
                missing.append(f"{doc.name}: {path}")
    assert missing == []


def test_design_numbers_every_rule() -> None:
    text = (ROOT / "docs" / "design.md").read_text()
    numbers = [int(n) for n in re.findall(r"^(\d+)\. \*\*", text, re.M)]
    assert numbers == list(range(1, 20))
