"""Operations in the console, in Chromium (issue 14, second half): the auditors' export and
the latest signed checkpoint, sync requests (cancel, one pending per kind), registration
settings, webhooks with their delivery log, and four-eyes approvals. axe-core on each page.

One server for the module (`shared_server`): each test that changes something acts on what
it creates itself. Screenshots go to test-output/console/ (names 40-…).
"""

from __future__ import annotations

import json
from typing import Any

from browser_kit import Server, axe_check, shot, sign_in

from replay.export import read_export_checkpoint, verify_export
from replay.keys import known_verifiers
from replay.note import peek_checkpoint


def url(server: Server, path: str) -> str:
    return server.url + path


def test_verify_page_shows_the_latest_signed_checkpoint_and_exports_the_log(
    page: Any, shared_server: Server
) -> None:
    server = shared_server
    sign_in(page, server, "auditor")
    page.goto(url(server, "/console/audit"))
    page.click("#verify-link")
    card = page.locator("#latest-checkpoint")
    card.wait_for()
    size = int(page.inner_text("#checkpoint-size").split()[0].replace(",", ""))
    root = page.inner_text("#checkpoint-root").strip()
    key_id = page.inner_text("#checkpoint-key").strip()
    assert size >= 1 and len(root) == 64 and len(key_id) == 8
    # What the page shows is what the API serves to anyone holding the public key.
    api = page.request.get(url(server, "/v1/log/checkpoint")).json()
    assert api["root_hash"] == root and api["key_id"] == key_id
    assert api["tree_size"] == size
    axe_check(page, "verify page with checkpoint")
    shot(page, "40-verify-latest-checkpoint")
    with page.expect_download() as download_info:
        page.click("#export-events")
    download = download_info.value
    assert download.suggested_filename.endswith(".jsonl")
    path = download.path()
    lines = open(path, encoding="utf-8").read().splitlines()
    rows = [json.loads(line) for line in lines]
    assert "checkpoint" in rows[-1] and len(rows) - 1 == rows[-1]["tree_size"] >= size
    # The file re-verifies on its own, signature included (rule: verification never trusts
    # the database the events live in).
    keys = known_verifiers(server.services.tree.config.signing_key)
    report = verify_export(path, verifiers=keys)
    assert report.ok, report.problems
    note = read_export_checkpoint(path)
    assert note is not None and peek_checkpoint(note).tree_size == rows[-1]["tree_size"]
