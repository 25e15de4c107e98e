"""The one Settings object: every knob of the service, read from `SYNCLEDGER_*` variables.

Command-line options override it (`--database-url`, `--host`, `--port`). Add a field here
rather than reading `os.environ` elsewhere, so `syncledger --help` and the docs stay complete.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SYNCLEDGER_", extra="ignore")

    database_url: str = "sqlite:///syncledger.db"
    # Ed25519 key that signs checkpoints; kept outside the database (tamper evidence).
    signing_key: Path = Path("syncledger-signing.key")
    # Where each new signed checkpoint is also written, so copies accumulate outside.
    checkpoint_dir: Path | None = None
    # serve signs a checkpoint at most this often (seconds) while the log grows.
    checkpoint_every_s: float = 1.0
    # One JSON line per request (correlation id, route, status, duration) on stderr.
    log_json: bool = False


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
