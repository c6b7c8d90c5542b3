"""What the end-to-end import tests do after `omnicx import`: refresh the imported days, read
`omnicx kpis` per tenant, and count the warehouse's rows (to show a second import adds none)."""

from __future__ import annotations

import json
from datetime import date

from click.testing import CliRunner, Result

from orchestration.cli import main
from schemas.settings import Settings
from schemas.settings_env import settings_env
from warehouse.build import connect_read_only


def refresh(settings: Settings, first: date, last: date) -> Result:
    """`omnicx refresh` in this process (a subprocess would import Dagster and Great
    Expectations again: seconds of CPU a run)."""
    done = CliRunner().invoke(
        main,
        ["--home", str(settings.home), "refresh", "--from", first.isoformat(), "--to",
         last.isoformat()],
        env=settings_env(settings),
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    return done


def tenant_kpis(settings: Settings, first: date, last: date) -> dict[tuple[str, str], float]:
    """(kpi id, tenant) -> the exact value `omnicx kpis --by tenant --format json` gives."""
    outcome = CliRunner().invoke(
        main,
        ["--home", str(settings.home), "kpis", "--from", first.isoformat(), "--to",
         last.isoformat(), "--by", "tenant", "--long", "--format", "json"],
        env=settings_env(settings),
    )  # fmt: skip
    assert outcome.exit_code == 0, outcome.output
    return {(r["kpi"], r["tenant"]): r["value"] for r in json.loads(outcome.stdout)}


def warehouse_counts(settings: Settings, *tables: str) -> dict[str, int]:
    with connect_read_only(settings) as con:
        return {
            table: con.execute(f"select count(*) from {table}").fetchone()[0] for table in tables
        }
