"""eventsourcing's PostgreSQL persistence, on a pool that fails fast and heals
(domain/infra/pgpool.py) instead of the library's default one."""

from __future__ import annotations

from typing import Any

from eventsourcing.postgres import ConnectionPool, PostgresFactory
from eventsourcing.utils import Environment, EnvType
from psycopg import Connection
from psycopg.rows import DictRow

from domain.infra.pgpool import (
    CONNECT_TIMEOUT_S,
    POOL_TIMEOUT_S,
    RECONNECT_TIMEOUT_S,
    GuardedPoolMixin,
)


class GuardedEventPool(GuardedPoolMixin, ConnectionPool[Connection[DictRow]]):
    pass


class Factory(PostgresFactory):
    def __init__(self, env: Environment | EnvType | None):
        super().__init__(env)
        datastore = self.datastore
        old = datastore.pool  # made closed (open=False): nothing to hand over
        kwargs = dict(old.kwargs) if isinstance(old.kwargs, dict) else {}
        kwargs["connect_timeout"] = CONNECT_TIMEOUT_S
        pool: Any = GuardedEventPool(
            get_password_func=old.get_password_func,
            connection_class=old.connection_class,
            kwargs=kwargs,
            min_size=old.min_size,
            max_size=old.max_size,
            open=False,
            configure=datastore.after_connect_func(),
            timeout=POOL_TIMEOUT_S,
            max_waiting=old.max_waiting,
            max_lifetime=old.max_lifetime,
            reconnect_timeout=RECONNECT_TIMEOUT_S,
        )
        pool._guard_init(f"{kwargs.get('host')}:{kwargs.get('port')}/{kwargs.get('dbname')}")
        datastore.pool = pool


__all__ = ["Factory"]
