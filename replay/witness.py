"""An auditor's witness: keep the server's checkpoints and check each new one extends the last.

`run_witness` fetches the public key (pinned in the state directory the first time, and
afterwards only replaced by a successor the pinned key endorsed), then the latest
checkpoint, checks its signature, and — when a checkpoint is already kept — asks for a
consistency proof from the kept size to the new one and checks it. A smaller tree
(rollback), or a different root for a tree that should contain the kept one (fork), is
reported and the kept checkpoint stays as it was.

State directory: `verifier_keys` (one verifier key per line, trusted), `checkpoint` (the
latest kept note), `checkpoints/<size>.txt` (every one kept).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from replay.merkle import ProofError, verify_consistency
from replay.note import Checkpoint, NoteError, Verifier, open_checkpoint, open_note

HttpClient = httpx.Client  # fastapi's TestClient is one too (tests use two apps)


class WitnessError(RuntimeError):
    """Fork, rollback, bad signature, or a server that does not answer as it should."""


@dataclass
class WitnessResult:
    checkpoint: Checkpoint
    previous: Checkpoint | None
    messages: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        prev = self.previous
        return {
            "ok": True,
            "tree_size": self.checkpoint.tree_size,
            "root_hash": self.checkpoint.root_hash.hex(),
            "previous_tree_size": prev.tree_size if prev else None,
            "messages": self.messages,
        }


def _get(client: HttpClient, url: str, token: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = client.get(url, headers=headers)
    except Exception as e:  # noqa: BLE001 - connection errors of any client
        raise WitnessError(f"cannot reach {url}: {e}") from None
    if response.status_code != 200:
        raise WitnessError(f"GET {url} answered {response.status_code}: {response.text[:300]}")
    body: dict[str, Any] = response.json()
    return body


def _trusted_keys(state: Path, server_keys: dict[str, Any], messages: list[str]) -> list[Verifier]:
    file = state / "verifier_keys"
    current = Verifier.parse(server_keys["verifier_key"])
    if not file.exists():
        file.write_text(current.text() + "\n")
        messages.append(f"first run: trusting the server's key {current.text()} from now on")
        return [current]
    trusted = [Verifier.parse(line) for line in file.read_text().splitlines() if line.strip()]
    if current in trusted:
        return trusted
    # A new key: accept it only if a key we trust endorsed it (rotation), in chain order.
    for retired in server_keys.get("retired", []):
        old = Verifier.parse(retired["verifier_key"])
        if old not in trusted:
            continue
        try:
            opened = open_note(retired["endorsement"], [old])
            successor = Verifier.parse(opened.text.split("\n")[1])
        except (NoteError, IndexError):
            continue
        if successor not in trusted:
            trusted.append(successor)
            messages.append(f"key rotation: {old.key_id} endorsed {successor.key_id}")
    if current not in trusted:
        raise WitnessError(
            f"the server signs with {current.text()}, which no key this witness trusts endorsed"
        )
    file.write_text("".join(v.text() + "\n" for v in trusted))
    return trusted


def run_witness(
    client: HttpClient, base_url: str, state: Path, *, token: str | None = None
) -> WitnessResult:
    state.mkdir(parents=True, exist_ok=True)
    base = base_url.rstrip("/")
    messages: list[str] = []
    keys = _trusted_keys(state, _get(client, f"{base}/v1/log/public-key"), messages)
    note = str(_get(client, f"{base}/v1/log/checkpoint")["note"])
    try:
        new, _ = open_checkpoint(note, keys)
    except NoteError as e:
        raise WitnessError(f"the server's checkpoint does not verify: {e}") from None
    kept_file = state / "checkpoint"
    previous: Checkpoint | None = None
    if kept_file.exists():
        try:
            previous, _ = open_checkpoint(kept_file.read_text(), keys)
        except NoteError as e:
            raise WitnessError(f"the kept checkpoint {kept_file} does not verify: {e}") from None
        if previous.origin != new.origin:
            raise WitnessError(
                f"the server now calls its log {new.origin!r}, not {previous.origin!r}"
            )
        if new.tree_size < previous.tree_size:
            raise WitnessError(
                f"ROLLBACK: the server's tree has {new.tree_size} entries, fewer than the "
                f"{previous.tree_size} of the checkpoint kept in {kept_file}"
            )
        proof = _get(
            client,
            f"{base}/v1/log/proof/consistency?from={previous.tree_size}&to={new.tree_size}",
            token,
        )
        try:
            verify_consistency(
                previous.tree_size,
                new.tree_size,
                previous.root_hash,
                new.root_hash,
                [bytes.fromhex(h) for h in proof["path"]],
            )
        except (ProofError, ValueError) as e:
            raise WitnessError(
                f"FORK: the checkpoint of size {new.tree_size} does not extend the kept one of "
                f"size {previous.tree_size} ({e})"
            ) from None
        messages.append(
            f"size {new.tree_size} extends the kept size {previous.tree_size} (proof checked)"
        )
    history = state / "checkpoints"
    history.mkdir(exist_ok=True)
    (history / f"{new.tree_size:015d}.txt").write_text(note)
    tmp = state / "checkpoint.tmp"
    tmp.write_text(note)
    tmp.replace(kept_file)
    return WitnessResult(new, previous, messages)
