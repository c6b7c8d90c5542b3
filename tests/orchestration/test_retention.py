"""Per-tenant retention (docs/tenancy.md, Retention) on a written lake: with retention N days, a
refresh after N + 1 days leaves no contact-level row of the tenant older than N days, in the lake
or the warehouse, and keeps its daily aggregates and the other tenant's rows; the sink's
manifests still account for every file, so nothing is landed again or quarantined."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from orchestration.retention import enforce_retention, retention_status
from schemas.settings import Settings, TenantSettings
from tests.warehouse.kpi_fixtures import DAY, NEXT_DAY, small_centre
from tests.warehouse.kpi_fixtures import write_lake as write_facts
from tests.warehouse.lakes import lake_settings
from tests.warehouse.test_tenant_warehouse import OTHER, other_tenants_contacts
from warehouse.build import build_warehouse
from warehouse.kpi_marts import refresh_marts
from warehouse.landing import day_dirs, files_in
from warehouse.manifest import Entry, PartitionManifest, manifest_path
from warehouse.retention import ages, drop_expired, prune_partition, read_cutoffs
from warehouse.tables import LAKE_TABLES

RETENTION_DAYS = 1
TODAY = NEXT_DAY + timedelta(days=RETENTION_DAYS)  # N + 1 days after the first day
FIRST_KEPT = TODAY - timedelta(days=RETENTION_DAYS)  # == NEXT_DAY: DAY expires
AGGREGATES = (
    "mart_contact_kpis_hourly",
    "mart_survey_kpis_daily",
    "mart_journey_kpis_daily",
    "mart_agent_occupancy_hourly",
)


def manifests(settings: Settings) -> list[tuple]:
    """(table, manifest) of every partition of the lake, as a sink holds them."""
    found = []
    for table in LAKE_TABLES:
        for partition in (0, 1):
            path = manifest_path(settings.lake_dir, table, partition)
            found.append(
                (table, PartitionManifest(path, settings.lake_dir / table.name, partition))
            )
    return found


def adopt(settings: Settings) -> None:
    """Record every file of the hand-written lake in its partition's manifest, as the sink
    does when it lands it."""
    for table, manifest in manifests(settings):
        for directory in day_dirs(settings.lake_dir, table):
            for f in files_in(directory, manifest.partition):
                rows = pq.read_metadata(f.path).num_rows
                manifest.added_all([Entry(f, rows, f.path.stat().st_size)])


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def refresh(settings: Settings) -> None:
    build_warehouse(settings, marts=lambda con: refresh_marts(con, DAY, NEXT_DAY, settings))


@pytest.fixture(scope="module")
def expired(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, dict, dict]:
    """acme keeps 1 day, brightco everything; two days landed and refreshed, then the retention
    job and the sinks' pass on day 3, then a refresh of both days: the settings, what the
    warehouse held before and the resumes of the manifests before."""
    settings = replace(
        lake_settings(tmp_path_factory.mktemp("retention")),
        tenants={"acme": TenantSettings(retention_days=RETENTION_DAYS)},
    )
    write_facts(settings, **small_centre())
    write_facts(settings, other_tenants_contacts(), partition=1)
    adopt(settings)
    refresh(settings)
    before = snapshot(settings)
    resumes = {
        (t.name, m.partition): m.reconcile(day_dirs(settings.lake_dir, t))
        for t, m in manifests(settings)
    }

    enforce_retention(settings, TODAY)
    for table, manifest in manifests(settings):  # what each sink does with the published days
        prune_partition(table, manifest, read_cutoffs(settings.lake_dir))
    refresh(settings)
    return settings, before, resumes


def snapshot(settings: Settings) -> dict:
    with duckdb.connect(str(settings.duckdb_file), read_only=True) as con:
        shot = {
            mart: rows(con, f"select * from {mart} where day = '{DAY}' order by all")
            for mart in AGGREGATES
        }
        shot["events"] = rows(con, "select tenant, count(*) from int_events group by 1 order by 1")
        shot["contacts"] = rows(con, "select tenant, started_day from int_contacts order by all")
    return shot


def test_no_contact_level_row_of_the_tenant_is_older_than_its_retention(expired) -> None:
    settings, before, _ = expired
    assert ("acme", DAY) in before["contacts"]  # there was something to drop
    with duckdb.connect(str(settings.duckdb_file), read_only=True) as con:
        for table in LAKE_TABLES:
            old = rows(
                con,
                f"select count(*) from lake_{table.name} "
                f"where tenant = 'acme' and day < '{FIRST_KEPT}'",
            )
            if ages(table):
                assert old == [(0,)], table.name
            else:  # customer keys lie under their Kafka day: they still stitch recent contacts
                assert table.name != "customer_keys" or old[0][0] > 0
        assert rows(con, "select tenant, started_day from int_contacts order by all") == [
            c for c in before["contacts"] if not (c[0] == "acme" and c[1] < FIRST_KEPT)
        ]
        for mart, column in (
            ("mart_first_responses", "day"),
            ("mart_journeys_recomputed", "day"),
            ("mart_churn_risk", "as_of_day"),
            ("int_surveys", "contact_started_day"),
        ):
            old = rows(
                con,
                f"select count(*) from {mart} where tenant = 'acme' and {column} < '{FIRST_KEPT}'",
            )
            assert old == [(0,)], mart
        # the files themselves: nothing expired is left anywhere in the lake
        lake = settings.lake_dir.resolve()
        left = rows(
            con,
            f"select count(*) from read_parquet('{lake}/events/day=*/*.parquet', "
            f"hive_partitioning = true) where tenant = 'acme' and day < '{FIRST_KEPT}'",
        )
        assert left == [(0,)]


def test_the_aggregates_and_the_other_tenants_rows_are_kept(expired) -> None:
    settings, before, _ = expired
    after = snapshot(settings)
    for mart in AGGREGATES:
        assert after[mart] == before[mart], mart
    assert any(row[3] == "acme" for row in after["mart_contact_kpis_hourly"])
    others = [e for e in before["events"] if e[0] == OTHER]
    assert [e for e in after["events"] if e[0] == OTHER] == others
    assert [c for c in after["contacts"] if c[0] == OTHER] == [
        c for c in before["contacts"] if c[0] == OTHER
    ]


def test_the_sinks_manifests_still_account_for_every_file(expired) -> None:
    settings, _, resumes = expired
    for table, manifest in manifests(settings):
        assert (
            manifest.reconcile(day_dirs(settings.lake_dir, table))
            == resumes[table.name, manifest.partition]
        ), table.name
    assert not (settings.lake_dir / "_sink" / "quarantine").exists()


def test_retention_shows_what_was_applied(expired) -> None:
    settings, _, _ = expired
    assert retention_status(settings) == {"acme": (RETENTION_DAYS, FIRST_KEPT)}
    fresh = replace(settings, home=Path("/nonexistent"))
    assert retention_status(fresh) == {"acme": (RETENTION_DAYS, None)}


def test_late_rows_of_an_expired_day_are_not_landed_again() -> None:
    import pyarrow as pa

    data = pa.table({"tenant": ["acme", OTHER, None], "n": [1, 2, 3]})
    cutoffs = {"acme": date(2026, 1, 6)}
    assert drop_expired(data, date(2026, 1, 5), cutoffs).column("n").to_pylist() == [2, 3]
    assert drop_expired(data, date(2026, 1, 6), cutoffs).num_rows == 3


def test_a_sink_applies_newly_published_first_kept_days_to_its_partitions(
    tmp_path: Path,
) -> None:
    """The sink's side, without Kafka: a sink holding the partitions' manifests drops the
    expired rows once the retention file changes, and records the rewritten files."""
    from kafka import TopicPartition

    from warehouse.layout import write_marker
    from warehouse.retention import write_cutoffs
    from warehouse.sink import LakeSink

    settings = lake_settings(tmp_path)
    write_facts(settings, **small_centre())
    write_facts(settings, other_tenants_contacts(), partition=1)
    adopt(settings)
    write_marker(settings.lake_dir)
    sink = LakeSink(settings, instance_id="retention-test")
    try:
        topics = {table.name: topic for topic, table in sink.tables.items()}
        sink.manifests = {
            TopicPartition(topics[table.name], m.partition): m for table, m in manifests(settings)
        }
        sink._apply_retention()  # nothing published yet: nothing dropped
        before = lake_rows(settings)

        write_cutoffs(settings.lake_dir, {"acme": NEXT_DAY})
        sink._apply_retention()
    finally:
        sink.instance.release()

    after = lake_rows(settings)
    assert before[("acme", DAY)] > 0
    assert ("acme", DAY) not in after
    assert {k: v for k, v in before.items() if k != ("acme", DAY)} == after
    for table, manifest in manifests(settings):
        assert all(e.intact() for e in manifest.entries.values()), table.name


def lake_rows(settings: Settings) -> dict[tuple[str, date], int]:
    """Events per (tenant, day) in the lake's files."""
    lake = settings.lake_dir.resolve()
    with duckdb.connect() as con:
        found = con.execute(
            f"select tenant, day, count(*) from read_parquet('{lake}/events/day=*/*.parquet', "
            "hive_partitioning = true) group by all"
        ).fetchall()
    return {(tenant, day): n for tenant, day, n in found}


def test_status_lists_each_tenants_retention(expired) -> None:
    from orchestration.commands.status import render
    from orchestration.status import Status

    settings, _, _ = expired
    state = Status(
        bootstrap="127.0.0.1:9092",
        local_broker=None,
        broker_answers=False,
        services=[],
        dagster_url=None,
        day_start=datetime(2026, 1, 7, tzinfo=UTC),
        retention=retention_status(settings),
    )

    lines = render(state, datetime(2026, 1, 7, 3, tzinfo=UTC))

    assert lines[-2].startswith("retention:")
    assert lines[-1].split() == ["acme", "1", "days,", "kept", "from", str(FIRST_KEPT)]
