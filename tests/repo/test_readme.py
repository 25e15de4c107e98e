"""The README's shell walk-throughs run as written against a served instance (issue 15).

The ```sh blocks of "Walk-through 1" and "Walk-through 2" are run with bash, curl and jq,
after the README's own variables block (tokens and port substituted). Checks look for the
fields the README promises, not for whole bodies, so features added later do not break it.
Then the demo runs on the same database (it must not collide with the walk-throughs) and the
time-travel command it prints must work.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-c", "from api.cli import main; main()"]

pytestmark = pytest.mark.skipif(
    not (shutil.which("curl") and shutil.which("jq")), reason="the README needs curl and jq"
)


def sections() -> dict[str, list[str]]:
    """The README's ```sh blocks, by the `## ` section they are in."""
    found: dict[str, list[str]] = {}
    title = ""
    for part in re.split(r"^(## .*)$", (ROOT / "README.md").read_text(), flags=re.M):
        if part.startswith("## "):
            title = part[3:].strip()
            continue
        found.setdefault(title, []).extend(re.findall(r"^```sh\n(.*?)^```", part, re.M | re.S))
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    def __init__(self, root: Path, env: dict[str, str], port: int, log: Path) -> None:
        self.root, self.env, self.port, self.log = root, env, port, log
        self.tokens: dict[str, str] = {}

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CLI, *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=120
        )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    work = tmp_path_factory.mktemp("readme")
    env = dict(
        os.environ,
        SYNCLEDGER_DATABASE_URL=f"sqlite:///{work}/readme.db",
        SYNCLEDGER_RUNNERS="thread",
    )
    port = free_port()
    log = work / "serve.log"
    with open(log, "w") as sink:
        proc = subprocess.Popen(
            [*CLI, "serve", "--port", str(port)], cwd=ROOT, env=env, stdout=sink, stderr=sink
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/health", timeout=2):
                    break
            except OSError:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        yield Served(work, env, port, log)
    finally:
        proc.terminate()
        proc.wait(15)


def tokens(served: Served) -> dict[str, str]:
    """The README's three tokens ("First steps"), created once per served instance."""
    if not served.tokens:
        for name, role in (("agent", "worker"), ("sam", "support"), ("audrey", "auditor")):
            done = served.cli("tokens", "create", name, "--role", role)
            assert done.returncode == 0, done.stderr
            served.tokens[role] = done.stdout.strip().splitlines()[-1]
    return served.tokens


def run_walkthrough(served: Served, title: str) -> str:
    blocks = sections()
    [variables] = [b for b in blocks["First steps"] if b.startswith("API=")]
    made = tokens(served)
    variables = variables.replace("127.0.0.1:8000", f"127.0.0.1:{served.port}")
    for role in made:
        variables = variables.replace(f"<{role} token>", made[role])
    [walkthrough] = [t for t in blocks if t.startswith(title)]
    script = "set -euo pipefail\n" + variables + "\n".join(blocks[walkthrough])
    assert "<" not in re.sub(r"<<|#.*$", "", script, flags=re.M), "a placeholder is left"
    done = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=300, cwd=served.root
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_walkthrough_1_stuck_session(served: Served) -> None:
    out = run_walkthrough(served, "Walk-through 1")
    assert '"code":"session_in_progress"' in out
    assert '"blocking_session_id"' in out
    assert '{"safe":true,"failed_checks":[]}' in out
    assert '{"deleted":false,"would_unsync":0}' in out
    assert '{"deleted":true,"unsynced":0}' in out
    assert '{"status":"completed","records_synced":1}' in out
    assert '"code":"unsafe_deletion"' in out and '"has_records"' in out
    assert '{"deleted":true,"unsynced":1}' in out
    assert '"ticket":"SUP-1234"' in out
    assert re.search(r'\{"undone":\d+,"receipts_restored":1,"receipts_skipped":0\}', out)
    assert '{"unsynced":1}' in out


def test_walkthrough_2_oneclick(served: Served) -> None:
    out = run_walkthrough(served, "Walk-through 2")
    assert '"accepted":2,"duplicates":0,"records_synced":2' in out
    assert '{"message":"HMRC credentials expired"' in out
    assert '"message":"Synchronisation is currently in progress on PRACTICE-SRV"' in out
    assert '{"status":"completed","records_synced":2,"error_count":1}' in out
    assert (
        '{"missing":[{"entity_type":"Client List","key":"C0002"}],'
        '"changed":[{"entity_type":"Client List","key":"C0001"}],"unchanged":0}'
    ) in out
    assert '"state":"idle","message":"Next scheduled sync at ' in out
    assert '"validation_error"' in out
    assert '"kind":"full","status":"pending"' in out
    assert re.search(
        r'\{"sync_type":"full","request_id":"[0-9a-f-]{36}","status":"in_progress"\}', out
    )


def test_serve_banner_and_root(served: Served) -> None:
    banner = served.log.read_text()
    assert f"http://127.0.0.1:{served.port}/console" in banner
    assert f"http://127.0.0.1:{served.port}/docs" in banner
    request = urllib.request.Request(f"http://127.0.0.1:{served.port}/")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.build_opener(NoRedirect).open(request, timeout=5)
    assert answer.value.code in (302, 307)
    assert answer.value.headers["location"] == "/console"


def test_demo_after_the_walkthroughs_and_its_as_of_hint(served: Served) -> None:
    """The demo fills its own registrations (no collision with the walk-throughs'), and the
    time-travel command it prints works on its history."""
    done = served.cli("demo", "--sessions", "6")
    assert done.returncode == 0, done.stderr
    hint = done.stdout.strip().splitlines()[-1]
    command = re.search(r"syncledger (replay as-of \S+ --position \d+)", hint)
    assert command, hint
    shown = served.cli(*command.group(1).split(), "--json")
    assert shown.returncode == 0, shown.stderr
    assert '"items"' in shown.stdout and '"status": "completed"' in shown.stdout
    again = served.cli("demo", "--sessions", "6")
    assert again.returncode == 1 and "already holds the demo history" in again.stderr
