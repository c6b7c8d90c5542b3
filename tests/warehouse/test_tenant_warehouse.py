"""Tenant-scoped warehouse files on a hand-made lake of two tenants (docs/tenancy.md): only the
tenant's rows of every relation, the same names and comments, and a connection that reaches no
other file whatever SQL it is given."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from orchestration.commands.sql import sql
from orchestration.commands.warehouse import warehouse
from schemas.settings import Settings, SettingsError, load_settings, with_overrides
from schemas.targets import KpiTargets
from tests.warehouse.kpi_fixtures import DAY, NEXT_DAY, contact, handled_call, small_centre
from tests.warehouse.kpi_fixtures import write_lake as write_facts
from tests.warehouse.lakes import lake_settings
from tests.warehouse.tenant_scope import assert_only_its_rows, scope, tenant_counts
from warehouse.build import build_warehouse
from warehouse.catalog import create_every_mart
from warehouse.forecast import create_forecast_tables
from warehouse.kpi_marts import refresh_marts
from warehouse.query import run
from warehouse.tenant_warehouse import (
    TenantScopeError,
    build_tenant_warehouse,
    connect_tenant_analyst,
)

OTHER = "brightco"


def other_tenants_contacts() -> list:
    return [
        handled_call("b1", "2026-01-05T10:00:00", tenant=OTHER, customer="zoe", queue="b.q"),
        contact("b2", "2026-01-06T11:00:00", tenant=OTHER, customer="yan", abandoned=30.0),
    ]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A warehouse of two tenants (acme: the small centre; brightco: two contacts) with every
    mart, and both tenants' files, with a target and a time zone of each tenant's own."""
    home = tmp_path_factory.mktemp("tenants")
    settings = with_overrides(
        lake_settings(home),
        warehouse={"tenant_warehouses": ("acme", OTHER)},
        tenants={
            "acme": load_settings(environ={}, config_file=_toml(home, "Europe/Paris")).tenants[
                "acme"
            ],
            OTHER: load_settings(environ={}, config_file=_toml(home, "Asia/Tokyo", OTHER)).tenants[
                OTHER
            ],
        },
    )
    write_facts(settings, **small_centre())
    write_facts(settings, other_tenants_contacts(), partition=1)

    def marts(con: duckdb.DuckDBPyConnection) -> None:
        refresh_marts(con, DAY, NEXT_DAY, settings)
        create_forecast_tables(con)

    build_warehouse(settings, marts=marts)
    for tenant in settings.warehouse.tenant_warehouses:
        build_tenant_warehouse(settings, tenant)
    return settings


def _toml(home: Path, zone: str, tenant: str = "acme") -> Path:
    path = home / f"{tenant}.toml"
    path.write_text(
        f'[tenants.{tenant}]\ntime_zone = "{zone}"\n'
        f"[tenants.{tenant}.targets.service_level]\ntarget = 0.9\n"
    )
    return path


@pytest.mark.parametrize("tenant", ["acme", OTHER])
def test_a_tenant_file_holds_only_its_rows_of_every_relation(built: Settings, tenant: str) -> None:
    main = built.duckdb_file
    own = built.tenant_warehouse_file(tenant)

    rows = assert_only_its_rows(scope(main), own, tenant)

    assert rows > 0
    # The main file really holds both tenants, so the filter had something to take out.
    assert set(tenant_counts(main, "int_contacts")) == {"acme", OTHER}
    assert set(tenant_counts(own, "mart_contact_kpis_hourly")) == {tenant}


def test_views_stay_views_computed_from_the_tenants_rows(built: Settings) -> None:
    with duckdb.connect(str(built.tenant_warehouse_file(OTHER)), read_only=True) as con:
        kinds = dict(
            con.execute(
                "select table_name, 'table' from duckdb_tables() "
                "union all select view_name, 'view' from duckdb_views() where not internal"
            ).fetchall()
        )
        contacts = con.execute("select contact_id from int_contacts order by 1").fetchall()
    assert kinds["int_contacts"] == "view"
    assert kinds["lake_events"] == "table"  # the data itself: no file access needed
    assert contacts == [("b1",), ("b2",)]


def test_knob_and_target_sets_name_only_the_tenant(built: Settings) -> None:
    with duckdb.connect(str(built.tenant_warehouse_file(OTHER)), read_only=True) as con:
        (knobs,) = con.execute("select knobs from kpi_knob_sets").fetchone()
        (targets,) = con.execute("select targets from kpi_target_sets").fetchone()
        zones = con.execute("select * from kpi_time_zones").fetchall()
    assert json.loads(knobs)["time_zones"] == {OTHER: "Asia/Tokyo"}
    assert set(json.loads(targets)) == {"*", OTHER}
    assert zones == [(OTHER, "Asia/Tokyo")]


def test_a_table_without_a_tenant_column_stops_the_build(tmp_path: Path) -> None:
    settings = lake_settings(tmp_path)
    write_facts(settings, other_tenants_contacts())
    build_warehouse(settings, marts=lambda con: con.execute("create table notes as select 1 as n"))

    with pytest.raises(TenantScopeError, match="table notes of the warehouse has no tenant"):
        build_tenant_warehouse(settings, OTHER)

    assert not settings.tenant_warehouse_file(OTHER).exists()


def test_the_command_builds_a_tenant_file_and_refuses_a_bad_name(built: Settings) -> None:
    path = built.tenant_warehouse_file(OTHER)
    before = path.stat().st_ino

    result = CliRunner().invoke(warehouse, ["build", "--tenant", OTHER], obj=built)
    refused = CliRunner().invoke(warehouse, ["build", "--tenant", "../acme"], obj=built)

    assert result.exit_code == 0, result.output
    assert result.output == f"warehouse of tenant {OTHER} built at {path.resolve()}\n"
    assert path.stat().st_ino != before  # a new file renamed into place
    assert refused.exit_code == 2
    assert "'../acme' is not a tenant name" in refused.output


def test_tenant_names_are_checked_at_load(tmp_path: Path) -> None:
    config = tmp_path / "omnicx.toml"
    config.write_text('[warehouse]\ntenant_warehouses = ["acme", "a/b"]\n')
    with pytest.raises(SettingsError, match=r"warehouse.tenant_warehouses: 'a/b' is not a tenant"):
        load_settings(environ={}, config_file=config)
    assert KpiTargets  # the targets type the fixture's tenants carry


def hostile(settings: Settings, other: Path) -> list[tuple[str, str]]:
    """(statement, what the refusal says): reading the lake, the warehouse, ``other`` (another
    tenant's file) or any other file, writing, attaching, changing a setting, loading an
    extension."""
    lake = settings.lake_dir.resolve()
    main = settings.duckdb_file.resolve()
    denied = "Permission Error"
    return [
        (f"select * from read_parquet('{lake}/events/**/*.parquet')", denied),
        (f"select * from read_parquet('{lake}/contact_versions/*/*.parquet')", denied),
        (f"select * from read_text('{main}')", denied),
        (f"select * from read_blob('{other}')", denied),
        ("select * from read_csv('/etc/passwd')", denied),
        (f"select * from glob('{lake}/*')", denied),
        ("select * from read_parquet('https://example.com/x.parquet')", denied),
        (f"attach '{other}' as other", "only SELECT statements run (not attach)"),
        (f"attach '{main}' as main_file (read_only)", "only SELECT statements run (not attach)"),
        (f"copy int_contacts to '{lake}/x.parquet'", "only SELECT statements run (not copy)"),
        ("set enable_external_access = true", "only SELECT statements run (not set)"),
        ("install httpfs", "only SELECT statements run (not load)"),
        ("select 1; load httpfs", "only SELECT statements run (not load)"),
        ("pragma database_list", "only SELECT statements run (not pragma)"),
    ]


def test_hostile_sql_on_a_tenant_file_reaches_nothing_else(built: Settings) -> None:
    for statement, refusal in hostile(built, built.tenant_warehouse_file("acme").resolve()):
        result = CliRunner().invoke(sql, ["--tenant", OTHER, statement], obj=built)
        assert result.exit_code == 1, statement
        assert result.output.startswith("error: "), statement
        assert refusal in result.output, (statement, result.output)


@pytest.mark.parametrize(
    "statement",
    [
        "attach '{other}' as other",
        "attach '{main}' as main_file (read_only)",
        "copy (select 1) to '{lake}/events/x.parquet'",
        "copy (select 1) to '/tmp/omnicx-tenant-escape.csv'",
        "set enable_external_access = true",
        "reset allowed_directories",
        "load httpfs",
        "install httpfs",
        "create secret s (type s3, key_id 'k', secret 's')",
    ],
)
def test_the_connection_itself_refuses_what_the_statement_check_would(
    built: Settings, statement: str
) -> None:
    """Below the SELECT-only check, the locked configuration alone reaches no file."""
    lake = built.lake_dir.resolve()
    main, other = built.duckdb_file.resolve(), built.tenant_warehouse_file("acme").resolve()
    with connect_tenant_analyst(built, OTHER) as con:
        with pytest.raises(duckdb.Error):
            con.execute(statement.format(lake=lake, main=main, other=other))
        assert run(con, "select count(*) from int_contacts").rows == [(2,)]
    assert not Path("/tmp/omnicx-tenant-escape.csv").exists()
    assert not (lake / "events" / "x.parquet").exists()


def test_analysts_query_their_file_through_omnicx_sql(built: Settings) -> None:
    result = CliRunner().invoke(
        sql,
        [
            "--tenant",
            OTHER,
            "--format",
            "csv",
            "select tenant, count(*) as n from int_contacts group by all",
        ],
        obj=built,
    )
    missing = CliRunner().invoke(sql, ["--tenant", "nobody", "select 1"], obj=built)

    assert result.exit_code == 0, result.output
    assert result.output == f"tenant,n\n{OTHER},2\n"
    assert missing.exit_code == 1
    assert "omnicx warehouse build --tenant nobody" in missing.output


def test_every_mart_of_an_empty_warehouse_is_scoped(tmp_path: Path) -> None:
    """The relations ``python -m warehouse.catalog`` documents, forecast tables included."""
    settings = lake_settings(tmp_path)
    build_warehouse(settings, marts=lambda con: create_every_mart(con, DAY, settings))

    path = build_tenant_warehouse(settings, OTHER)

    assert_only_its_rows(scope(settings.duckdb_file), path, OTHER)
