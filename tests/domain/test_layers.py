"""The rules never import infrastructure (issue 10: infrastructure is not mixed with the rules).

Aggregates, events, the deletion policy, validation, values and errors must be importable
without any database driver, lock, URL parsing or transcoder: each is checked in a fresh
interpreter so nothing imported by another test hides a violation.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

RULE_MODULES = [
    "domain.approval",
    "domain.errors",
    "domain.liveness",
    "domain.policy",
    "domain.recent",
    "domain.registration",
    "domain.results",
    "domain.session",
    "domain.validation",
    "domain.values",
]
FORBIDDEN = ["domain.infra", "sqlite3", "psycopg", "psycopg_pool", "eventsourcing.sqlite"]

PROBE = """
import importlib, sys
sys.modules.setdefault("domain", type(sys)("domain"))
sys.modules["domain"].__path__ = [{path!r}]
importlib.import_module({module!r})
bad = sorted(m for m in sys.modules if any(m == f or m.startswith(f + ".") for f in {forbidden!r}))
print(",".join(bad))
"""


@pytest.mark.parametrize("module", RULE_MODULES)
def test_rule_module_imports_no_infrastructure(module: str) -> None:
    import domain

    path = domain.__path__[0]
    # The package __init__ (which re-exports the Ledger) is bypassed on purpose: only the
    # rule module and what it imports itself are loaded.
    code = PROBE.format(path=path, module=module, forbidden=FORBIDDEN)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "", f"{module} pulls in infrastructure: {out}"


def test_probe_catches_an_infrastructure_import() -> None:
    import domain

    code = PROBE.format(path=domain.__path__[0], module="domain.infra.locks", forbidden=FORBIDDEN)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert "domain.infra" in out.split(",")
