"""The one Settings object: every knob of the service, read from `SYNCLEDGER_*` variables.

Command-line options override it (`--database-url`, `--host`, `--port`). Add a field here
rather than reading `os.environ` elsewhere, so `syncledger --help` and the docs stay complete.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.liveness import system_clock


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

    # --- operations (issue 13) -----------------------------------------------------------
    # Webhook delivery: each attempt times out after this long, so a slow receiver only
    # delays its own deliveries (they run in serve's background process, never in ingest).
    webhook_timeout_seconds: float = 5.0
    # Retries back off exponentially from the base, capped; a delivery gives up (status
    # "failed") after webhook_max_attempts attempts.
    webhook_retry_base_seconds: float = 5.0
    webhook_retry_cap_seconds: float = 3600.0
    webhook_max_attempts: int = 15
    # How often serve's background process looks for webhook messages to send (two cheap
    # reads when there is nothing to do) ...
    webhook_poll_seconds: float = 0.2
    # ... and runs the time-based tasks: stuck flagging, self-healing, approval expiry.
    housekeeping_interval_seconds: float = 15.0
    # Shifts the service's clock for the time-based rules (stuck, self-healing, approval
    # expiry). 0 in production; drills and tests use it to run hours ahead without waiting.
    clock_offset_seconds: float = 0.0

    # --- console sign-in (issue 11, finding 3) --------------------------------------------
    # A console session ends after this long without a request ...
    console_session_idle_minutes: float = 30.0
    # ... and this long after signing in, however busy.
    console_session_max_hours: float = 8.0


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def service_clock(settings: Settings | None = None) -> Callable[[], datetime]:
    """The clock of the time-based rules: the real time, shifted by clock_offset_seconds."""
    offset = timedelta(seconds=(settings or get_settings()).clock_offset_seconds)
    if not offset:
        return system_clock
    return lambda: system_clock() + offset
