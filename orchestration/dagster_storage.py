"""The event log storage of ``omnicx refresh``'s Dagster runs: Dagster's SQLite storage, same
files and schema (the UI and the daemon read them with the default class), made cheap per event.

A refresh over D days records, per asset, one planned event and one materialization per day,
and Dagster's SQLite storage opened a new SQLAlchemy engine, a SQLite connection and a
transaction for each (two for an asset event: the run's database and the cross-run index), then
closed the connection, which in WAL mode checkpoints and syncs the file (and it opened one
more engine per asset event to ask whether an index table exists): about 40 assets × D
days × 2 events, and at 21 days most of the refresh's time (docs/performance.md). This class
keeps one engine and one open connection per database for the life of the instance, and
commits in WAL mode with ``synchronous = NORMAL`` (a commit survives the process being killed;
only a power loss can lose the last ones, of a run that then did not finish anyway).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.event_log.sqlite import sqlite_event_log
from dagster._core.storage.sql import _alembic_lock, create_engine, get_alembic_config
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool


class RefreshEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` with one open connection per database file (run or index)."""

    def __init__(self, base_dir: str, inst_data=None) -> None:
        # before the parent's __init__: it may create the index database through _connect
        self._engines: dict[str, Engine] = {}
        self._tables: set[str] = set()  # the index database's tables known to exist
        super().__init__(base_dir, inst_data=inst_data)

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> RefreshEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engines.get(shard)
            if engine is None:
                engine = self._engines[shard] = _engine(self.conn_string_for_shard(shard))
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _initdb(self, engine: Engine, for_index_shard: bool = False) -> None:
        super()._initdb(engine, for_index_shard=for_index_shard)
        # Stamping a new database left its connection in the alembic config that Dagster caches
        # for the whole process (``get_alembic_config``, an lru_cache): that kept this storage's
        # engine, its pool's "connect" listener and through the listener's module everything
        # up to DuckDB's bindings alive past the interpreter's exit, where nanobind reported
        # them as leaked on stderr (docs/performance.md, Refresh and marts).
        with _alembic_lock:
            get_alembic_config(sqlite_event_log.__file__).attributes.pop("connection", None)

    def has_table(self, table_name: str) -> bool:
        # Asked for every asset event (which columns the index has), from inside a transaction
        # (the lock is held): the parent's own short-lived engine, once per table, since tables
        # are only ever added.
        if table_name not in self._tables and super().has_table(table_name):
            self._tables.add(table_name)
        return table_name in self._tables

    def dispose(self) -> None:
        super().dispose()
        with self._db_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()


def _engine(conn_string: str) -> Engine:
    # One connection, reused: the storage's lock serialises every use of it, whatever thread.
    engine = create_engine(
        conn_string,
        poolclass=StaticPool,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
    )
    event.listen(engine, "connect", _synchronous_normal)
    return engine


def _synchronous_normal(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("pragma synchronous = normal")
    cursor.close()
