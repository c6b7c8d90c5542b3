"""Tenant-scoped warehouses from a real pipeline run (the session's ``simulated_pipeline``, two
tenants streamed, landed and refreshed; only read here): each tenant's file holds only its rows
of every relation, and hostile SQL on it reaches neither the lake, the warehouse nor the other
tenant's file."""

from __future__ import annotations

import duckdb
import pytest
from click.testing import CliRunner

from orchestration.commands.sql import sql
from schemas.settings import Settings, with_overrides
from tests.simulated_pipeline import SimulatedPipeline
from tests.warehouse.tenant_scope import assert_only_its_rows, scope, tenant_counts
from tests.warehouse.test_tenant_warehouse import hostile
from warehouse.tenant_warehouse import build_tenant_warehouses


@pytest.fixture(scope="module")
def scoped(
    simulated_pipeline: SimulatedPipeline, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Settings, list[str]]:
    """Both tenants' files, built into a directory of this module from the run's warehouse."""
    run = simulated_pipeline.settings
    names = sorted(t for t in tenant_counts(run.duckdb_file, "int_contacts") if t is not None)
    settings = with_overrides(
        run,
        warehouse={
            "tenant_dir": tmp_path_factory.mktemp("tenant-files"),
            "tenant_warehouses": tuple(names),
        },
    )
    build_tenant_warehouses(settings)
    return settings, names


def test_each_tenant_file_holds_only_its_rows(scoped: tuple[Settings, list[str]]) -> None:
    settings, names = scoped
    assert len(names) == 2
    main = scope(settings.duckdb_file)  # once: its views read the whole lake

    for tenant in names:
        rows = assert_only_its_rows(main, settings.tenant_warehouse_file(tenant), tenant)

        assert rows > 1000, tenant  # two simulated days of a brand: events, contacts, marts ...
        for name in ("int_events", "int_contacts", "mart_contact_kpis_hourly", "mart_churn_risk"):
            assert main.counts[name].get(tenant, 0) > 0, (tenant, name)


def test_hostile_sql_on_a_tenant_file_reaches_nothing_else(
    scoped: tuple[Settings, list[str]],
) -> None:
    settings, (first, second) = scoped
    for statement, refusal in hostile(settings, settings.tenant_warehouse_file(first).resolve()):
        result = CliRunner().invoke(sql, ["--tenant", second, statement], obj=settings)
        assert result.exit_code == 1, statement
        assert refusal in result.output, (statement, result.output)
    with duckdb.connect(str(settings.tenant_warehouse_file(second)), read_only=True) as con:
        (count,) = con.execute("select count(*) from int_contacts").fetchone()
    assert count > 0
