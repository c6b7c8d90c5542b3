"""A tenant's report reads its own warehouse file when it has one (docs/tenancy.md): the same
numbers as from the main warehouse filtered by tenant, and nothing else needed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestration.reports.model import Period
from orchestration.reports.output import build
from schemas.settings import Settings, with_overrides
from tests.warehouse.kpi_fixtures import DAY, NEXT_DAY
from tests.warehouse.test_tenant_warehouse import OTHER, built  # noqa: F401 (the fixture)
from warehouse.build import WarehouseMissing
from warehouse.tenant_warehouse import connect_scope

NOW = datetime(2026, 1, 8, 9, 0, tzinfo=UTC)
PERIOD = Period.between(DAY, NEXT_DAY)


def test_a_tenants_report_reads_its_own_file(built: Settings, tmp_path: Path) -> None:  # noqa: F811
    with connect_scope(built, OTHER) as con:
        (path,) = con.execute(
            "select path from duckdb_databases() where database_name = current_database()"
        ).fetchone()
    assert Path(path) == built.tenant_warehouse_file(OTHER)

    from_own_file = build(built, PERIOD, OTHER, NOW)
    # Without the main warehouse, the tenant's report still builds, the overall one cannot.
    no_main = with_overrides(built, warehouse={"duckdb_file": tmp_path / "absent.duckdb"})
    alone = build(no_main, PERIOD, OTHER, NOW)
    with pytest.raises(WarehouseMissing):
        build(no_main, PERIOD, None, NOW)

    assert alone.tiles == from_own_file.tiles
    assert alone.queues == from_own_file.queues
    assert any(tile.value is not None for tile in alone.tiles)


def test_without_its_own_file_a_tenants_report_reads_the_warehouse(built: Settings) -> None:  # noqa: F811
    others = with_overrides(built, warehouse={"tenant_dir": Path("/nonexistent")})
    with connect_scope(others, OTHER) as con:
        (path,) = con.execute(
            "select path from duckdb_databases() where database_name = current_database()"
        ).fetchone()
    assert Path(path) == built.duckdb_file
    shared = build(others, PERIOD, OTHER, NOW)

    assert shared.tiles == build(built, PERIOD, OTHER, NOW).tiles
