"""`syncledger demo`: the two support articles' situations as a realistic history."""

from __future__ import annotations

import hashlib
import random
from uuid import NAMESPACE_URL, uuid5

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from domain.infra.database import Database
from domain.ledger import Ledger
from domain.values import Context, registration_id

ACCOUNTLINK = ("accountlink-quickbooks", r"C:\Books\acme.qbw", "Acme Ltd (QuickBooks)")
ONECLICK = ("cch-oneclick", r"\\CENTRAL01\CCH\Central", "Smith & Partners (CCH Central)")
ONECLICK_TYPES = (
    "Employee List",
    "Client List",
    "Team Security",
    "Business List",
    "HMRC Credentials List",
    "AP Period Entity Type",
    "AP Nominals",
    "AP Transactions",
)
ACCOUNTLINK_TYPES = ("Timesheet", "Customer", "Item", "Employee", "Vendor")
ONECLICK_SIZES = (12, 240, 300, 60, 20, 12, 150, 1500)


class DemoExists(Exception):
    pass


def _digest(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]


def _sid(*parts: object) -> str:
    return str(uuid5(NAMESPACE_URL, "syncledger-demo/" + "/".join(map(str, parts))))


def run_demo(
    database: Database, *, sessions: int = 150, stuck_after: int = 1, console: Console | None = None
) -> list[str]:
    ledger = Ledger(database=database)
    rng = random.Random(42)
    agent = Context.system("accountlink-admin")
    if registration_id(*ACCOUNTLINK[:2]) in ledger.repository:
        raise DemoExists(f"{database.url} already holds the demo history; use a fresh database.")
    oneclick_sessions = 24
    total = sessions + 1 + oneclick_sessions + 3
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console or Console(stderr=True),
        transient=False,
    ) as progress:
        task = progress.add_task("Accountlink sessions", total=total)
        product, file_id, name = ACCOUNTLINK
        rid = ledger.register(
            agent,
            product=product,
            file_id=file_id,
            name=name,
            sync_interval_minutes=60,
            stuck_after_minutes=stuck_after,
        ).registration_id
        for n in range(sessions):
            sync_type = "time" if n % 3 else "custom"
            ctx = Context.system("accountlink-admin")
            sid = ledger.start_session(
                ctx,
                rid,
                sync_type=sync_type,
                session_id=_sid("al", n),
                worker="ACME-PC01",
            ).session_id
            count = rng.randint(0, 40) if sync_type == "time" else rng.randint(0, 8)
            if count:
                types = ACCOUNTLINK_TYPES[:1] if sync_type == "time" else ACCOUNTLINK_TYPES[1:]
                records = []
                for i in range(count):
                    et = types[i % len(types)]
                    key = f"{et[:3].upper()}-{rng.randint(1, 400):04d}"
                    records.append((et, key, _digest(et, key, n)))
                records = list({r[:2]: r for r in records}.values())  # rule 12: each once
                ledger.record_batch(ctx, rid, sid, records, batch_id=f"al-{n}")
            ledger.complete_session(ctx, rid, sid)
            progress.advance(task)
        # The stuck one: its agent died right after starting; it blocks further time syncs.
        stuck = ledger.start_session(
            agent, rid, sync_type="time", session_id=_sid("al", "stuck"), worker="ACME-PC01"
        ).session_id
        progress.advance(task)

        progress.update(task, description="OneClick syncs")
        product, file_id, name = ONECLICK
        worker_ctx = Context.system("oneclick-syncworker")
        oid = ledger.register(
            worker_ctx,
            product=product,
            file_id=file_id,
            name=name,
        ).registration_id
        for n in range(oneclick_sessions):
            full = n in (0, 12)
            ctx = Context.system("oneclick-syncworker")
            sid = ledger.start_session(
                ctx,
                oid,
                sync_type="full" if full else "periodic",
                session_id=_sid("oc", n),
                worker="CENTRAL01",
                entity_types=list(ONECLICK_TYPES),
            ).session_id
            for et, size in zip(ONECLICK_TYPES, ONECLICK_SIZES, strict=True):
                keys = range(size) if full else rng.sample(range(size), k=max(1, size // 20))
                records = [
                    (et, f"{et.split()[0].lower()}-{k}", _digest(et, k, n if k % 7 == 0 else 0))
                    for k in keys
                ]
                ledger.record_batch(ctx, oid, sid, records, batch_id=f"oc-{n}-{et}")
            if n in (5, 17):
                ledger.record_error(
                    ctx,
                    oid,
                    sid,
                    message="HMRC credentials rejected: token expired",
                    entity_type="HMRC Credentials List",
                    key="hmrc-3",
                )
            if n == 9:
                ledger.record_error(
                    ctx,
                    oid,
                    sid,
                    message="Timeout posting AP Transactions batch",
                    entity_type="AP Transactions",
                )
                ledger.fail_session(ctx, oid, sid, reason="Connection to OneClick lost")
            else:
                ledger.complete_session(ctx, oid, sid)
            progress.advance(task)
        support = Context.system("support-desk")
        ledger.request_sync(support, oid, kind="periodic")
        progress.advance(task, 3)
    ledger.close()
    return [
        f"Accountlink registration {rid}: {sessions} completed time/custom syncs and "
        f"stuck session {stuck} (time, 0 records; stuck after {stuck_after} min).",
        f"OneClick registration {oid}: {oneclick_sessions} periodic/full syncs over "
        f"{len(ONECLICK_TYPES)} entity types, errors, one failed sync, a pending sync request.",
    ]
