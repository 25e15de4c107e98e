"""Our persistence passes eventsourcing's own abstract test cases (issue 10).

- `InfrastructureFactoryTestCase`: the factories as `Database.eventsourcing_env()`
  configures them (domain.infra.sqlite_store.Factory on its tuned pool; eventsourcing's
  PostgreSQL factory with our recorder topic and pool settings).
- `ApplicationRecorderTestCase` and `NonInterleavingNotificationIDsBaseCase`: our
  recorders (domain.infra.recorders), built by those factories as the application builds
  them; `AggregateRecorderTestCase`: the snapshot store on the same pools.
All on SQLite and PostgreSQL.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    ProcessRecorder,
    TrackingRecorder,
)
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresFactory,
    PostgresProcessRecorder,
    PostgresTrackingRecorder,
)
from eventsourcing.sqlite import (
    SQLiteAggregateRecorder,
    SQLiteProcessRecorder,
    SQLiteTrackingRecorder,
)
from eventsourcing.tests.persistence import (
    AggregateRecorderTestCase,
    ApplicationRecorderTestCase,
    InfrastructureFactoryTestCase,
    NonInterleavingNotificationIDsBaseCase,
)
from eventsourcing.utils import Environment

from domain.infra.compressor import PayloadCompressor  # noqa: E402
from domain.infra.recorders import PostgresSideWriteRecorder, SQLiteSideWriteRecorder
from domain.infra.sqlite_store import Factory as SQLiteFactory
from tests.conftest import make_database


class _OnOurDatabase:
    """A fresh database per test (a temporary SQLite file, or a PostgreSQL schema)."""

    KIND = "sqlite"

    def open_database(self) -> None:
        self._tmp = tempfile.TemporaryDirectory()
        self._databases: Iterator[Any] = make_database(self.KIND, Path(self._tmp.name))
        self.database = next(self._databases)
        self.factories: list[InfrastructureFactory[Any]] = []

    def close_database(self) -> None:
        for factory in self.factories:
            factory.close()
        next(self._databases, None)  # drops the PostgreSQL schema
        self._tmp.cleanup()

    def factory(self) -> InfrastructureFactory[Any]:
        factory = InfrastructureFactory.construct(env=self.database.eventsourcing_env())
        self.factories.append(factory)
        return factory


# --- the factories ----------------------------------------------------------------------


class _OurFactory(_OnOurDatabase, InfrastructureFactoryTestCase[Any]):
    def setUp(self) -> None:
        self.open_database()
        env = self.database.eventsourcing_env()
        # The library's mapper checks expect no compressor: ours is checked on its own below.
        self.compressor_topic = env.pop("COMPRESSOR_TOPIC")
        self.env = Environment("TestCase", env)
        super().setUp()

    def tearDown(self) -> None:
        super().tearDown()
        self.close_database()

    def test_our_mapper_compresses(self) -> None:
        """Our env configures the payload compressor (domain/infra/compressor.py)."""
        self.env[self.factory.COMPRESSOR_TOPIC] = self.compressor_topic
        mapper = self.factory.mapper(transcoder=self.transcoder)
        self.assertIsInstance(mapper.compressor, PayloadCompressor)


class TestSQLiteFactory(_OurFactory):
    KIND = "sqlite"

    def expected_factory_class(self) -> type[Any]:
        return SQLiteFactory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return SQLiteAggregateRecorder

    def expected_application_recorder_class(self) -> type[ApplicationRecorder]:
        return SQLiteSideWriteRecorder

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        return SQLiteTrackingRecorder

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return type("MySQLiteTrackingRecorder", (SQLiteTrackingRecorder,), {})

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        return SQLiteProcessRecorder


class TestPostgresFactory(_OurFactory):
    KIND = "postgresql"

    def expected_factory_class(self) -> type[Any]:
        return PostgresFactory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return PostgresAggregateRecorder

    def expected_application_recorder_class(self) -> type[ApplicationRecorder]:
        return PostgresSideWriteRecorder

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        return PostgresTrackingRecorder

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return type("MyPostgresTrackingRecorder", (PostgresTrackingRecorder,), {})

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        return PostgresProcessRecorder


# --- the recorders ----------------------------------------------------------------------


class _OurApplicationRecorder(_OnOurDatabase, ApplicationRecorderTestCase[ApplicationRecorder]):
    def setUp(self) -> None:
        super().setUp()
        self.open_database()

    def tearDown(self) -> None:
        self.close_database()
        super().tearDown()

    def create_recorder(self) -> ApplicationRecorder:
        recorder = self.factory().application_recorder()
        assert type(recorder).__module__ == "domain.infra.recorders", type(recorder)
        return recorder

    def test_concurrent_no_conflicts(self, initial_position: int = 0) -> None:
        # The library's test leaves its two reader threads running when it returns, so the
        # teardown closes the pool under them. That used to close a connection a reader was
        # executing on and crash the interpreter (domain/infra/sqlite_store.py says why);
        # the readers must now outlive the close without harm.
        before = set(threading.enumerate())
        super().test_concurrent_no_conflicts(initial_position)
        readers = set(threading.enumerate()) - before
        self.close_database()
        for thread in readers:
            thread.join(timeout=30)
            assert not thread.is_alive()
        self.open_database()


class TestSQLiteRecorder(_OurApplicationRecorder):
    KIND = "sqlite"


class TestPostgresRecorder(_OurApplicationRecorder):
    KIND = "postgresql"


class _OurNonInterleaving(_OnOurDatabase, NonInterleavingNotificationIDsBaseCase):
    def setUp(self) -> None:
        super().setUp()
        self.open_database()

    def tearDown(self) -> None:
        self.close_database()
        super().tearDown()

    def create_recorder(self) -> ApplicationRecorder:
        return self.factory().application_recorder()


class TestSQLiteNonInterleaving(_OurNonInterleaving):
    KIND = "sqlite"


class TestPostgresNonInterleaving(_OurNonInterleaving):
    KIND = "postgresql"


class _OurSnapshotRecorder(_OnOurDatabase, AggregateRecorderTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.open_database()

    def tearDown(self) -> None:
        self.close_database()
        super().tearDown()

    def create_recorder(self) -> AggregateRecorder:
        return self.factory().aggregate_recorder("snapshots")


class TestSQLiteSnapshotRecorder(_OurSnapshotRecorder):
    KIND = "sqlite"


class TestPostgresSnapshotRecorder(_OurSnapshotRecorder):
    KIND = "postgresql"


del (
    AggregateRecorderTestCase,
    ApplicationRecorderTestCase,
    InfrastructureFactoryTestCase,
    NonInterleavingNotificationIDsBaseCase,
    _OurApplicationRecorder,
    _OurFactory,
    _OurNonInterleaving,
    _OurSnapshotRecorder,
)
