"""The lifecycle commands: webhooks, approvals list, registration settings (both backends)."""

from __future__ import annotations

import orjson
from typer.testing import CliRunner

from api.cli import app
from domain.infra.database import Database
from domain.ledger import Ledger
from domain.values import Context

runner = CliRunner()


def test_webhooks_and_settings_from_the_command_line(database: Database) -> None:
    url = ["--database-url", database.url]
    made = runner.invoke(
        app, [*url, "webhooks", "create", "http://127.0.0.1:9/hook", "--event", "session.stuck"]
    )
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip().splitlines()[-1]
    assert secret.startswith("whsec_")
    listed = runner.invoke(app, [*url, "webhooks", "list", "--json"])
    hooks = orjson.loads(listed.stdout)
    assert [h["events"] for h in hooks] == [["session.stuck"]] and secret not in listed.stdout
    bad = runner.invoke(app, [*url, "webhooks", "create", "ftp://x", "--event", "session.stuck"])
    assert bad.exit_code == 2
    log = runner.invoke(app, [*url, "webhooks", "deliveries", hooks[0]["id"], "--json"])
    assert log.exit_code == 0 and orjson.loads(log.stdout) == []
    assert runner.invoke(app, [*url, "webhooks", "delete", hooks[0]["id"]]).exit_code == 0
    assert runner.invoke(app, [*url, "webhooks", "delete", hooks[0]["id"]]).exit_code == 1

    ledger = Ledger(database=database)
    rid = ledger.register(Context("agent"), product="p", file_id="f").registration_id
    done = runner.invoke(
        app,
        [
            *url,
            "registrations",
            "set",
            str(rid),
            "--auto-remove-stuck-after-minutes",
            "240",
            "--approvals-required",
            "--actor",
            "jx-admin",
        ],
    )
    assert done.exit_code == 0, done.output
    assert "approvals_required=True" in done.stdout
    refused = runner.invoke(
        app, [*url, "registrations", "set", str(rid), "--auto-remove-stuck-after-minutes", "5"]
    )
    assert refused.exit_code == 1 and "at least" in refused.stderr
    ledger.close()
    fresh = Ledger(database=database)
    reg = fresh.get_registration(rid)
    assert (reg.auto_remove_stuck_after_minutes, reg.approvals_required) == (240, True)
    fresh.close()
    listed = runner.invoke(app, [*url, "approvals", "list", "--json"])
    assert listed.exit_code == 0 and orjson.loads(listed.stdout) == []
