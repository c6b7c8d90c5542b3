"""The KPI marts of kpis.md: their knobs, their SQL and their refresh for a range of days.

The marts read the intermediate layer (``int_*``, see ``warehouse.kpi_inputs``) and store counts
and sums, never ratios, so that any range or roll-up is recomputed exactly
(``warehouse.kpis.kpi_values`` reads them). Each SQL file under ``sql/marts`` is one relation of
the same name: ``kpi_contacts`` is a view (per-contact derived fields), every ``mart_*`` is a
table refreshed per day and knob set: the rows of the days asked for and of the current knob set
are deleted and recomputed in one transaction, so that readers never see a half-refreshed day
and the rows other knob sets made for those days stay as they were.

Knobs: the ones that change stored counts (short-abandon and service-level thresholds, repeat
window, churn weights...) are written to the one-row table ``kpi_knobs`` that the SQL reads, the
tenants' reporting time zones to ``kpi_time_zones`` (tenant, time_zone; a tenant not listed
reports in UTC), and every mart row carries the ``knob_set`` id that produced it;
``kpi_knob_sets`` keeps what each id means (the KPI targets in force are recorded the same way
in ``kpi_target_sets``). Several knob sets coexist in the marts (service level at 20 s and at
60 s, say); readers
choose one (``warehouse.kpis.kpi_values``). The abandon treatment of service_level.v1 only chooses which stored counts to divide, so
it is applied when reading and is not part of a knob set.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, NamedTuple

from schemas.churn import sql_rules
from schemas.knob_sets import (
    DEFINITIONS,
    TENANT_KNOBS,
    TIME_ZONES,
    configured_targets,
    knob_set_id,
    mart_knobs,
)
from schemas.settings import TENANT_KPI_KNOBS, Settings

if TYPE_CHECKING:
    import duckdb


HOUR_US = 3_600_000_000


@dataclass(frozen=True)
class Mart:
    name: str
    reads: tuple[str, ...]  # the relations its SQL reads, for the asset graph
    day_column: str | None = None  # the column refreshed per day; None for a view
    # Named constants its SQL reads as $parameters, defined once in Python (schemas.churn).
    constants: Callable[[], dict[str, int]] | None = None


MARTS = (
    Mart("kpi_contacts", ("int_contacts",)),
    Mart("mart_contact_kpis_hourly", ("kpi_contacts",), "day"),
    Mart("mart_first_responses", ("kpi_contacts",), "day"),
    Mart("mart_survey_kpis_daily", ("int_surveys", "kpi_contacts"), "day"),
    Mart("mart_journeys_recomputed", ("kpi_contacts",), "day"),
    Mart("kpi_journeys", ("int_journeys", "kpi_contacts")),
    Mart("mart_journey_kpis_daily", ("kpi_journeys", "mart_journeys_recomputed"), "day"),
    Mart(
        "mart_agent_occupancy_hourly",
        ("int_agent_state_spans",),
        "day",
        lambda: {"interval_us": HOUR_US},  # its spans cut at hours (warehouse.staffing: finer)
    ),
    Mart(
        "mart_churn_risk",
        (
            "int_surveys",
            "int_journeys",
            "int_events",
            "int_customer_keys",
            "kpi_contacts",
        ),
        "as_of_day",
        sql_rules,
    ),
    # Outbound campaigns, apart from the inbound KPIs (docs/outbound.md).
    Mart("kpi_outbound_attempts", ("int_events", "int_contacts", "int_customer_keys")),
    Mart("kpi_opt_outs", ("int_events", "int_customer_keys")),
    Mart("mart_outbound_kpis_daily", ("kpi_outbound_attempts",), "day"),
    Mart("mart_opt_out_violations", ("kpi_outbound_attempts", "kpi_opt_outs"), "day"),
)
MART_BY_NAME = {mart.name: mart for mart in MARTS}


def write_knobs(con: duckdb.DuckDBPyConnection, settings: Settings) -> str:
    """(Re)write ``kpi_knobs`` and ``kpi_time_zones`` from the settings, record the knob set;
    its id."""
    knobs = mart_knobs(settings)
    knob_set = knob_set_id(knobs)
    scalars = {k: v for k, v in knobs.items() if k not in (TIME_ZONES, TENANT_KNOBS)}
    columns = ", ".join(f"${name} as {name}" for name in scalars)
    con.execute(
        f"create or replace table kpi_knobs as select $knob_set as knob_set, {columns}",
        {"knob_set": knob_set, **scalars},
    )
    con.execute("create or replace table kpi_time_zones (tenant varchar, time_zone varchar)")
    time_zones = knobs.get(TIME_ZONES, {})
    if time_zones:
        con.executemany("insert into kpi_time_zones values (?, ?)", list(time_zones.items()))
    columns = ", ".join(f"{knob} double" for knob in TENANT_KPI_KNOBS)
    con.execute(f"create or replace table kpi_tenant_knobs (tenant varchar, {columns})")
    tenant_knobs = knobs.get(TENANT_KNOBS, {})
    if tenant_knobs:
        marks = ", ".join("?" for _ in TENANT_KPI_KNOBS)
        con.executemany(
            f"insert into kpi_tenant_knobs values (?, {marks})",
            [[t, *(own[k] for k in TENANT_KPI_KNOBS)] for t, own in tenant_knobs.items()],
        )
    # No key constraint: the warehouse build copies tables into each new file without them.
    con.execute(
        "create table if not exists kpi_knob_sets "
        "(knob_set varchar, definitions varchar[], knobs json)"
    )
    con.execute(
        "insert into kpi_knob_sets select $id, $definitions, $knobs "
        "where not exists (select 1 from kpi_knob_sets where knob_set = $id)",
        {
            "id": knob_set,
            "definitions": list(DEFINITIONS),
            "knobs": json.dumps(knobs, sort_keys=True),
        },
    )
    return knob_set


def write_targets(con: duckdb.DuckDBPyConnection, settings: Settings) -> str:
    """Record the KPI targets in force in ``kpi_target_sets``, as knob sets are; their id.

    Targets change no stored number (only a report's red/amber/green), so mart rows do not carry
    the id: a published report names it, and this table says what it meant."""
    target_set, targets = configured_targets(settings)
    con.execute("create table if not exists kpi_target_sets (target_set varchar, targets json)")
    con.execute(
        "insert into kpi_target_sets select $id, $targets "
        "where not exists (select 1 from kpi_target_sets where target_set = $id)",
        {"id": target_set, "targets": json.dumps(targets, sort_keys=True)},
    )
    return target_set


@cache
def mart_sql(name: str) -> str:
    """The SQL of a mart (CTEs ending in ``select * from final``)."""
    return resources.files("warehouse").joinpath(f"sql/marts/{name}.sql").read_text()


def prepare_marts(con: duckdb.DuckDBPyConnection, settings: Settings) -> str:
    """Write the knobs and targets and (re)create the views the marts read; the knob set id."""
    knob_set = write_knobs(con, settings)
    write_targets(con, settings)
    for mart in MARTS:
        if mart.day_column is None:
            con.execute(f"create or replace view {mart.name} as {mart_sql(mart.name)}")
    return knob_set


def refresh_mart(con: duckdb.DuckDBPyConnection, name: str, date_from: date, date_to: date) -> int:
    """Recompute the rows of ``date_from``..``date_to`` (inclusive) of one mart table under the
    knob set of ``kpi_knobs``; how many rows of that set those days have now. The rows of other
    knob sets are kept. ``prepare_marts`` must have run on this connection's database."""
    mart = MART_BY_NAME[name]
    if mart.day_column is None:
        raise ValueError(f"{name} is a view: prepare_marts creates it")
    days: dict[str, object] = {"date_from": date_from, "date_to": date_to}
    computed = {**days, **(mart.constants() if mart.constants else {})}
    in_range = (
        f"{mart.day_column} between $date_from and $date_to "
        "and knob_set = (select knob_set from kpi_knobs)"
    )
    sql = mart_sql(name)
    if _table_exists(con, "kpi_retention"):
        # A tenant's days before its first kept day keep their rows: their contacts are gone
        # (warehouse.retention), recomputing them would empty their aggregates.
        expired = (
            "exists (select 1 from kpi_retention as r where r.tenant = {t}.tenant "
            f"and {{t}}.{mart.day_column} < r.first_kept_day)"
        )
        in_range += " and not " + expired.format(t=name)
        sql = f"select * from (\n{sql}\n) as fresh where not {expired.format(t='fresh')}"
    con.execute("begin transaction")
    try:
        if _table_exists(con, name):
            con.execute(f"delete from {name} where {in_range}", days)
            con.execute(f"insert into {name} by name {sql}", computed)
        else:
            con.execute(f"create table {name} as {sql}", computed)
        (rows,) = con.execute(f"select count(*) from {name} where {in_range}", days).fetchone()
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return rows


class MartRefreshed(NamedTuple):
    rows: int  # of the refreshed days, under the current knob set
    seconds: float  # wall time of its recomputation


def refresh_marts(
    con: duckdb.DuckDBPyConnection, date_from: date, date_to: date, settings: Settings
) -> dict[str, MartRefreshed]:
    """Prepare and refresh every mart table for the days, in dependency order; per mart, its
    rows of the days and the seconds it took."""
    prepare_marts(con, settings)
    refreshed = {}
    for mart in MARTS:
        if mart.day_column is not None:
            started = time.perf_counter()
            rows = refresh_mart(con, mart.name, date_from, date_to)
            refreshed[mart.name] = MartRefreshed(rows, time.perf_counter() - started)
    return refreshed


def _table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    found = con.execute(
        "select count(*) from duckdb_tables() "
        "where table_name = ? and schema_name = current_schema() "
        "and database_name = current_database()",
        [name],
    ).fetchone()
    return found[0] > 0
