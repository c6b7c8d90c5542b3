"""The refresh's Dagster event log storage (``orchestration.dagster_storage``) on a tiny job:
Dagster's default storage reads what it wrote, its connections commit with
``synchronous = normal``, and once the instance is closed nothing of it stays referenced from
Dagster's process-wide alembic config (what made DuckDB's bindings report leaks at exit)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from dagster import DagsterInstance, job, op
from dagster._core.storage.event_log.sqlite import sqlite_event_log
from dagster._core.storage.sql import get_alembic_config

from orchestration.commands.refresh import instance_overrides
from orchestration.dagster_storage import RefreshEventLogStorage


@op
def two() -> int:
    return 2


@job
def tiny():
    two()


def test_events_stored_by_the_refresh_storage_read_back_through_dagsters_own(tmp_path: Path):
    with DagsterInstance.local_temp(
        tempdir=str(tmp_path), overrides=instance_overrides(tmp_path)
    ) as instance:
        storage = instance.event_log_storage
        assert isinstance(storage, RefreshEventLogStorage)
        result = tiny.execute_in_process(instance=instance)
        assert result.success
        written = [(e.dagster_event_type, e.step_key) for e in instance.all_logs(result.run_id)]
        with storage.run_connection(result.run_id) as conn:
            # 1 is NORMAL (2, FULL, is SQLite's default)
            assert conn.exec_driver_sql("pragma synchronous").scalar() == 1
            sqlite_connection = conn.connection.dbapi_connection
        assert len(storage._engines) == 2  # the run's database and the index

    # the connection that stamped the run's new database is not kept by Dagster's cached config
    assert "connection" not in get_alembic_config(sqlite_event_log.__file__).attributes
    assert storage._engines == {}
    with pytest.raises(sqlite3.ProgrammingError, match="closed database"):
        sqlite_connection.execute("select 1")
    with DagsterInstance.local_temp(tempdir=str(tmp_path)) as default:
        assert type(default.event_log_storage) is sqlite_event_log.SqliteEventLogStorage
        read = [(e.dagster_event_type, e.step_key) for e in default.all_logs(result.run_id)]
    assert read == written
    assert ("STEP_SUCCESS", "two") in {(str(kind.value), step) for kind, step in read if kind}
