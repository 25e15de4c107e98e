"""Where the event log lives: an SQLite file by default, PostgreSQL from a URL."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_DATABASE_URL = "sqlite:///syncledger.db"
DATABASE_URL_ENV = "SYNCLEDGER_DATABASE_URL"


class DatabaseURLError(ValueError):
    pass


@dataclass(frozen=True)
class Database:
    """A parsed database URL: `sqlite:///relative.db`, `sqlite:////abs.db`, `postgresql://…`."""

    url: str
    kind: str  # "sqlite" | "postgresql"
    path: str = ""
    host: str = ""
    port: int = 5432
    user: str = ""
    password: str = ""
    dbname: str = ""
    schema: str = ""

    @classmethod
    def from_url(cls, url: str | None = None) -> Database:
        url = url or os.environ.get(DATABASE_URL_ENV) or DEFAULT_DATABASE_URL
        parts = urlsplit(url)
        if parts.scheme == "sqlite":
            raw = url[len("sqlite:///") :] if url.startswith("sqlite:///") else ""
            if not raw:
                raise DatabaseURLError(
                    f"SQLite URL {url!r} names no file: use sqlite:///relative.db "
                    "or sqlite:////absolute/path.db"
                )
            return cls(url=url, kind="sqlite", path=str(Path(raw).absolute()))
        if parts.scheme in ("postgresql", "postgres"):
            query = parse_qs(parts.query)
            return cls(
                url=url,
                kind="postgresql",
                host=parts.hostname or "127.0.0.1",
                port=parts.port or 5432,
                user=unquote(parts.username or "postgres"),
                password=unquote(parts.password or ""),
                dbname=(parts.path or "/").lstrip("/") or "postgres",
                schema=(query.get("schema") or ["public"])[0],
            )
        raise DatabaseURLError(
            f"Unsupported database URL {url!r}: use sqlite:///file.db or "
            "postgresql://user:pass@host:port/db"
        )

    @property
    def conninfo(self) -> str:
        """psycopg connection string (PostgreSQL only)."""
        parts = [f"host={self.host}", f"port={self.port}", f"dbname={self.dbname}"]
        if self.user:
            parts.append(f"user={self.user}")
        if self.password:
            parts.append(f"password={self.password}")
        return " ".join(parts)

    def eventsourcing_env(self) -> dict[str, str]:
        """Environment for eventsourcing's infrastructure factories."""
        env = {
            "TRANSCODER_TOPIC": "domain.infra.transcoder:OrjsonTranscoder",
            # Large payloads (record batches) stored zstd-compressed; old events still read.
            "COMPRESSOR_TOPIC": "domain.infra.compressor:PayloadCompressor",
        }
        if self.kind == "sqlite":
            env.update(
                PERSISTENCE_MODULE="domain.infra.sqlite_store:Factory",
                APPLICATION_RECORDER_TOPIC="domain.infra.recorders:SQLiteSideWriteRecorder",
                SQLITE_DBNAME=self.path,
                SQLITE_LOCK_TIMEOUT="30",
            )
        else:
            env.update(
                PERSISTENCE_MODULE="eventsourcing.postgres",
                APPLICATION_RECORDER_TOPIC="domain.infra.recorders:PostgresSideWriteRecorder",
                POSTGRES_DBNAME=self.dbname,
                POSTGRES_HOST=self.host,
                POSTGRES_PORT=str(self.port),
                POSTGRES_USER=self.user,
                POSTGRES_PASSWORD=self.password,
                POSTGRES_SCHEMA=self.schema,
                POSTGRES_POOL_SIZE="5",
                POSTGRES_MAX_OVERFLOW="10",
                POSTGRES_LOCK_TIMEOUT="10",
                POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT="30",
            )
        return env


def unreachable(database: Database, timeout_s: int = 3) -> str | None:
    """None when the database answers within `timeout_s`; otherwise one line saying why.

    The command line asks this first, so a wrong host or a stopped server is one clear
    message in a few seconds instead of a connection pool retrying for half a minute.
    """
    if database.kind == "sqlite":
        folder = Path(database.path).resolve().parent
        if not folder.is_dir():
            return f"cannot open the SQLite database {database.path}: {folder} does not exist"
        return None
    import psycopg

    try:
        psycopg.connect(database.conninfo, connect_timeout=max(2, timeout_s)).close()
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        where = f"{database.host}:{database.port}/{database.dbname}"
        return f"cannot reach the PostgreSQL database at {where}: {reason.strip()}"
    return None
