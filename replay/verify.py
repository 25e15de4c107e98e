"""Verification: recompute the Merkle tree from the stored events and compare it with a
signed checkpoint — trusting no other table of the database.

What is compared, and what that proves:

- **A checkpoint kept outside the database** (`--checkpoint FILE`: a witness's copy, a file
  from SYNCLEDGER_CHECKPOINT_DIR, the trailer of an earlier export). Its signature is
  checked with the log's public keys, and the root recomputed from the events at its tree
  size must equal it: any edit, deletion, reordering or insertion of an event at or below
  that size is detected, whatever else in the database was changed or emptied.
- **An earlier export** (`--against FILE`): its leaf hashes, themselves checked against the
  export's signed checkpoint, are compared leaf by leaf, so the first changed position is
  named.
- **Without either**, the newest checkpoint stored in the database is used (its signature
  checked). It still catches changes to the events it covers, but whoever can rewrite the
  database can also delete the newer checkpoints and leave an older one, and whoever holds
  the signing key can sign a rewritten log: only a copy kept elsewhere rules that out.
- The stored tiles (replay/tiles.py) are never used to decide: where they disagree with
  the recomputed leaves the report names that position as a hint.
Every event is also decoded (orjson + topic); failures are listed in `undecodable`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domain.infra.database import Database
from replay import verify_scan
from replay.keys import KeyFileError, known_verifiers
from replay.merkle import EMPTY_ROOT, CompactRange
from replay.note import Checkpoint, NoteError, Verifier, open_checkpoint, peek_checkpoint
from replay.store import open_store
from replay.verify_refs import CacheLeaves, ExportLeaves, parse_digest

Progress = Callable[[int, int], None]

LIMITS_OUTSIDE = (
    "Compared with a checkpoint kept outside the database: any edit, deletion, reordering or "
    "insertion of an event at or below its tree size is detected. Events after it were only "
    "hashed and decoded."
)
LIMITS_DATABASE = (
    "Compared with the newest checkpoint stored in the database itself. Its signature shows "
    "the log's key signed it, so the events it covers cannot be changed unnoticed by someone "
    "without the key — but someone who can rewrite the database can also delete the newer "
    "checkpoints and leave an older one, and someone with the signing key can sign a "
    "rewritten log. Only a checkpoint kept elsewhere (SYNCLEDGER_CHECKPOINT_DIR, `syncledger "
    "log witness`, an earlier export) rules that out: pass it with --checkpoint."
)
LIMITS_NONE = (
    "No signed checkpoint to compare with: only that every event decodes was checked. An "
    "edited, deleted, reordered or inserted event cannot be detected this way."
)


@dataclass
class VerifyReport:
    ok: bool
    checked: int
    head: dict[str, Any]
    first_bad_position: int | None
    problems: list[str] = field(default_factory=list)
    undecodable: list[int] = field(default_factory=list)
    checkpoint: dict[str, Any] | None = None
    checks: list[str] = field(default_factory=list)
    limits: str = LIMITS_NONE
    cache_mismatch_position: int | None = None
    verified: bool = False
    verdict: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "head": dict(self.head),
            "first_bad_position": self.first_bad_position,
            "problems": list(self.problems),
            "undecodable": list(self.undecodable),
            "checkpoint": self.checkpoint,
            "checks": list(self.checks),
            "limits": self.limits,
            "cache_mismatch_position": self.cache_mismatch_position,
            "verified": self.verified,
            "verdict": self.verdict,
        }


@dataclass
class _Target:
    checkpoint: Checkpoint
    source: str  # "file" | "export" | "database"
    signature: str
    signed_ok: bool


def _stored_checkpoint(database: Database) -> str | None:
    from replay.tiles import open_tiles

    try:
        with open_tiles(database) as tiles:
            return tiles.latest_checkpoint_note()
    except Exception:  # noqa: BLE001 - the table may be gone or altered: nothing to use
        return None


def _target(note: str, source: str, verifiers: list[Verifier]) -> _Target:
    """The checkpoint a note claims, and whether its signature verifies (NoteError if the
    note is not even a checkpoint)."""
    claimed = peek_checkpoint(note)
    if not verifiers:
        return _Target(claimed, source, "not checked: no public key given or found", False)
    try:
        checkpoint, by = open_checkpoint(note, verifiers)
    except NoteError as e:
        return _Target(claimed, source, f"INVALID: {e}", False)
    keys = ", ".join(f"{v.name}+{v.key_id}" for v in by)
    return _Target(checkpoint, source, f"verified with {keys}", True)


def _default_verifiers() -> list[Verifier]:
    from replay.treelog import LogConfig

    try:
        return known_verifiers(LogConfig.from_settings().signing_key)
    except KeyFileError:
        return []


def verify_log(
    database: Database,
    *,
    checkpoint_note: str | None = None,
    against: str | Path | None = None,
    verifiers: list[Verifier] | None = None,
    digest: str | None = None,
    at_position: int | None = None,
    progress: Progress | None = None,
    workers: int = 1,
) -> VerifyReport:
    """Recompute the tree over the stored log (up to `at_position`) and check it; with
    `workers` > 1 a large log is read and hashed by that many processes
    (replay/verify_scan.py: the command line's choice, never the server's)."""
    keys = verifiers if verifiers is not None else _default_verifiers()
    problems: list[str] = []
    checks: list[str] = []
    reference = ExportLeaves.load(Path(against), keys) if against is not None else None
    if reference is not None:
        problems += reference.problems
        checks += reference.checks
    target: _Target | None = None
    if checkpoint_note is not None:
        target = _target(checkpoint_note, "file", keys)
    elif reference is not None and reference.checkpoint_note is not None:
        target = _target(reference.checkpoint_note, "export", keys)
    else:
        stored = _stored_checkpoint(database)
        if stored is not None:
            try:
                target = _target(stored, "database", keys)
            except NoteError as e:
                problems.append(f"the checkpoint stored in the database is malformed: {e}")
    if target is not None and not target.signed_ok:
        problems.append(f"checkpoint signature {target.signature}")
    expected_digest = parse_digest(digest) if digest else None

    undecodable: list[int] = []
    tree = CompactRange()
    cache = CacheLeaves(database)
    size_wanted = target.checkpoint.tree_size if target else None
    root_at_target: bytes | None = EMPTY_ROOT if size_wanted == 0 else None
    last_at_target = 0
    position = 0
    digest_root: bytes | None = None
    first_changed: int | None = None
    with open_store(database) as store:
        total = store.count_events(at_position)
        top = store.max_position()
    parallel = workers if total >= verify_scan.PARALLEL_FROM else 1
    for chunk in verify_scan.scan(database, at_position, top, parallel):
        leaves, positions = chunk.leaves, chunk.positions
        if not leaves:
            continue
        start = tree.size
        if reference is not None and first_changed is None:
            for i, leaf in enumerate(leaves):
                first_changed = reference.compare(start + i, positions[i], leaf)
                if first_changed is not None:
                    break
        cache.see_page(start, positions, leaves)
        # The roots asked for (checkpoint size, --digest) may fall inside this chunk.
        stops = []
        if size_wanted is not None and start < size_wanted <= start + len(leaves):
            stops.append(size_wanted - start)
        if expected_digest is not None and positions[0] <= expected_digest[1] <= positions[-1]:
            if expected_digest[1] in positions:
                stops.append(positions.index(expected_digest[1]) + 1)
        done = 0
        for stop in sorted(stops):
            tree.extend(leaves[done:stop])
            done = stop
            if tree.size == size_wanted:
                root_at_target, last_at_target = tree.root(), positions[stop - 1]
            if expected_digest is not None and positions[stop - 1] == expected_digest[1]:
                digest_root = tree.root()
        tree.extend(leaves[done:])
        position = positions[-1]
        undecodable += chunk.undecodable
        if progress is not None:
            progress(tree.size, total)
    cache.close()
    root = tree.root()
    first_bad: int | None = None

    def bad(where: int | None, problem: str) -> None:
        nonlocal first_bad
        problems.append(problem)
        if where is not None and (first_bad is None or where < first_bad):
            first_bad = where

    if reference is not None:
        if first_changed is None:
            first_changed = reference.missing_after(tree.size)
        if first_changed is not None:
            bad(first_changed, reference.describe(first_changed))
        checks.append(
            f"leaf hashes compared with the export's {reference.size:,} rows "
            f"({'first change at position ' + str(first_changed) if first_changed else 'equal'})"
        )
    checkpoint_info: dict[str, Any] | None = None
    if target is not None:
        cp = target.checkpoint
        matches = root_at_target == cp.root_hash
        checkpoint_info = {
            "tree_size": cp.tree_size,
            "root_hash": cp.root_hash.hex(),
            "origin": cp.origin,
            "timestamp": cp.timestamp,
            "source": target.source,
            "signature": target.signature,
            "root_matches": matches,
        }
        checks.append(
            f"root recomputed from the events at tree size {cp.tree_size:,} "
            f"{'equals' if matches else 'DIFFERS from'} the checkpoint's "
            f"({target.source}; signature {target.signature})"
        )
        if root_at_target is None:
            where = cache.first_mismatch if first_bad is None else None
            bad(
                where,
                f"the log holds {tree.size:,} events, fewer than the {cp.tree_size:,} the "
                "checkpoint covers: events were deleted or the log was truncated",
            )
        elif not matches:
            where = cache.first_mismatch
            hint = (
                f"; the stored tiles first disagree at position {where} (a hint: they are "
                "not trusted — an export names the position for certain)"
                if where is not None
                else ""
            )
            bad(
                where if first_bad is None else None,
                f"the events at or below tree size {cp.tree_size:,} (position "
                f"{last_at_target}) do not match the checkpoint: an event was edited, "
                f"deleted, reordered or inserted{hint}",
            )
    if expected_digest is not None:
        checks.append(f"root at position {expected_digest[1]} compared with the digest given")
        if digest_root is None:
            bad(expected_digest[1], f"position {expected_digest[1]}: no such event")
        elif digest_root.hex() != expected_digest[0]:
            bad(
                expected_digest[1],
                f"position {expected_digest[1]}: the root differs from the digest given; "
                "the log was rewritten at or before it",
            )
    for p in undecodable[:100]:
        problems.append(f"position {p}: the event cannot be decoded")
    if undecodable and (first_bad is None or undecodable[0] < first_bad):
        first_bad = undecodable[0]
    checks.append(f"{tree.size:,} events re-read, hashed and decoded")
    if cache.first_mismatch is not None:
        checks.append(
            f"the stored tiles disagree with the events from position {cache.first_mismatch} "
            "(tiles are a cache, never trusted; an event changed after it was hashed, or the "
            "tiles were altered)"
        )
    limits = (
        LIMITS_NONE
        if target is None
        else LIMITS_DATABASE
        if target.source == "database"
        else LIMITS_OUTSIDE
    )
    ok = not problems and not undecodable
    verified = ok and target is not None and target.signed_ok and root_at_target is not None
    return VerifyReport(
        ok=ok,
        verified=verified,
        verdict=_verdict(ok, verified, tree.size, target, first_bad),
        checked=tree.size,
        head={"position": position, "digest": root.hex(), "tree_size": tree.size},
        first_bad_position=first_bad,
        problems=problems,
        undecodable=undecodable,
        checkpoint=checkpoint_info,
        checks=checks,
        limits=limits,
        cache_mismatch_position=cache.first_mismatch,
    )


_WHERE = {
    "file": "kept outside the database",
    "export": "carried by the export",
    "database": "stored in the database (the newest one there)",
}


def _verdict(
    ok: bool, verified: bool, size: int, target: _Target | None, first_bad: int | None
) -> str:
    """One sentence saying what was checked: "ok" only for events compared with a signed
    checkpoint, never for a log nothing could be compared with (whatever other tables of
    the database say or no longer say)."""
    if not ok:
        where = f" at position {first_bad}" if first_bad is not None else ""
        return f"NOT OK: the log does not match{where}; see problems."
    if size == 0 and target is None:
        return "nothing to verify: the log holds no events."
    if not verified or target is None:
        return (
            f"NOT VERIFIED: {size:,} events were re-read and decoded, but no signed checkpoint "
            "was found to compare them with, so an edited, deleted, reordered or inserted "
            "event would not show. Pass a checkpoint kept elsewhere: --checkpoint FILE."
        )
    covered = target.checkpoint.tree_size
    text = (
        f"ok: the {covered:,} events up to tree size {covered:,} match the signed checkpoint "
        f"{_WHERE[target.source]}"
    )
    if size > covered:
        text += f"; the {size - covered:,} events after it were only re-hashed and decoded"
    if target.source == "database":
        text += " (a checkpoint kept outside the database is the stronger check)"
    return text + "."
