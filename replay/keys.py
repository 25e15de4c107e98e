"""The checkpoint signing key, kept in a file outside the database, and its retired keys.

`SYNCLEDGER_SIGNING_KEY` (default ./syncledger-signing.key) holds one private key in the
signed-note format, mode 0600, created on first use. Rotation (`syncledger keys create
--rotate`) moves the old key's PUBLIC half to `<key file>.retired` (one JSON object per
line) with an endorsement: a note naming the new verifier key, signed by the old key, so a
witness that trusted the old key can move to the new one, and checkpoints signed before the
rotation stay verifiable. Nothing here is read from or written to the database: an
operator who can rewrite the database still cannot sign.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from replay.note import NoteError, Signer, Verifier, now_rfc3339, open_note, sign_note

ENDORSEMENT_TITLE = "syncledger key rotation"


class KeyFileError(RuntimeError):
    """The key file cannot be read, created or replaced."""


def default_name() -> str:
    host = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname()) or "localhost"
    return f"{host}/syncledger"


def retired_path(path: Path) -> Path:
    return path.with_name(path.name + ".retired")


def _write_private(path: Path, text: str) -> None:
    """Write a private key with mode 0600 from the start, replacing atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, (text + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def read_signer(path: Path) -> Signer:
    try:
        return Signer.parse(path.read_text())
    except OSError as e:
        raise KeyFileError(f"cannot read the signing key {path}: {e.strerror}") from None
    except NoteError as e:
        raise KeyFileError(f"{path} is not a signing key: {e}") from None


def load_or_create(path: Path, name: str | None = None) -> Signer:
    """The signer in `path`, creating a new key there (mode 0600) if there is none."""
    if path.exists():
        return read_signer(path)
    signer = Signer.generate(name or default_name())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return read_signer(path)
    except OSError as e:
        raise KeyFileError(f"cannot create the signing key {path}: {e.strerror}") from None
    try:
        os.write(fd, (signer.text() + "\n").encode())
    finally:
        os.close(fd)
    return signer


def create_key(path: Path, *, name: str | None = None, rotate: bool = False) -> Signer:
    """A new key in `path`. An existing key is refused unless `rotate`, which retires it."""
    if path.exists() and not rotate:
        raise KeyFileError(
            f"{path} already holds a signing key; pass --rotate to retire it "
            "(its public key stays listed, so its checkpoints stay verifiable)"
        )
    old = read_signer(path) if path.exists() else None
    signer = Signer.generate(name or (old.name if old else default_name()))
    if old is not None:
        endorsement = sign_note(
            f"{ENDORSEMENT_TITLE}\n{signer.verifier.text()}\n{now_rfc3339()}\n", [old]
        )
        entry = {
            "verifier_key": old.verifier.text(),
            "retired_at": now_rfc3339(),
            "endorsement": endorsement,
        }
        with open(retired_path(path), "ab") as f:
            f.write(orjson.dumps(entry) + b"\n")
    _write_private(path, signer.text())
    return signer


@dataclass(frozen=True)
class RetiredKey:
    verifier: Verifier
    retired_at: str
    endorsement: str  # the successor's verifier key, signed by this key

    def successor(self) -> Verifier:
        opened = open_note(self.endorsement, [self.verifier])
        lines = opened.text.split("\n")
        if lines[0] != ENDORSEMENT_TITLE or len(lines) < 3:
            raise NoteError("not a key rotation endorsement")
        return Verifier.parse(lines[1])

    def as_dict(self) -> dict[str, Any]:
        return {
            "key_id": self.verifier.key_id,
            "name": self.verifier.name,
            "verifier_key": self.verifier.text(),
            "retired_at": self.retired_at,
            "endorsement": self.endorsement,
        }


def retired_keys(path: Path) -> list[RetiredKey]:
    file = retired_path(path)
    if not file.exists():
        return []
    keys = []
    for line in file.read_bytes().splitlines():
        if not line.strip():
            continue
        entry = orjson.loads(line)
        keys.append(
            RetiredKey(
                Verifier.parse(entry["verifier_key"]), entry["retired_at"], entry["endorsement"]
            )
        )
    return keys


def known_verifiers(path: Path) -> list[Verifier]:
    """The current key's verifier and every retired one (old checkpoints stay verifiable)."""
    verifiers = [read_signer(path).verifier] if path.exists() else []
    return verifiers + [k.verifier for k in retired_keys(path)]


def load_verifiers(spec: str) -> list[Verifier]:
    """Verifier keys from a string NAME+ID+KEY or a file of them (one per line, or a
    signing key file, whose public half is used)."""
    file = Path(spec)
    if "+" in spec and not file.exists():
        return [Verifier.parse(spec)]
    try:
        text = file.read_text()
    except OSError as e:
        raise KeyFileError(f"cannot read the key {spec}: {e.strerror}") from None
    if text.startswith("PRIVATE+KEY+"):
        return known_verifiers(file)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(Verifier.parse(line))
    if not out:
        raise KeyFileError(f"{spec} holds no verifier key")
    return out
