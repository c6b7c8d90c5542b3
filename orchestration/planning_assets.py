"""The assets downstream of the KPI marts: what to do next (planning) and who to tell
(compliance). The KPI marts and the outbound marts are ``orchestration.assets``' (every
``warehouse.kpi_marts.MARTS`` entry, the outbound ones included).

- ``planning`` (group ``planning``): one warehouse build whose hook writes, for the run's days,
  the staffing requirement (``mart_staffing_hourly``, ``warehouse.staffing``) and the volume
  forecast of the weeks after the marts' last complete day with its backtest
  (``mart_forecast``, ``mart_forecast_backtest``, ``warehouse.forecast``), under the current
  knobs. Built aside and swapped in like every build, so readers never see half of it.
- ``opt_out_violation_alerts`` (group ``alerts``): the violations of the run's days in
  ``mart_opt_out_violations``, each sent once to the ``[alerts]`` channels
  (``orchestration.alerts.compliance``).

Both are in the ``refresh`` job (every asset outside the reports' group), so the hourly
schedule, the daily close and the new-data sensor run them after the marts.
"""

from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    AssetSpec,
    DailyPartitionsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
    multi_asset,
)

from orchestration.partitions import SINGLE_RUN, partition_days, today
from orchestration.resources import WarehouseResource
from schemas.settings import Settings

PLANNING_GROUP = "planning"
ALERTS_GROUP = "alerts"
FORECAST_WEEKS = 2  # as `omnicx forecast`'s default


def _spec(name: str, deps: list[str], description: str, owner: str) -> AssetSpec:
    from warehouse.catalog import load_catalog

    return AssetSpec(
        name,
        group_name=PLANNING_GROUP,
        deps=deps,
        kinds={"duckdb"},
        description=description,
        owners=[owner],
        metadata={"grain": load_catalog().relation_comment(name) or ""},
    )


def build_planning_assets(
    partitions: DailyPartitionsDefinition, settings: Settings
) -> list[AssetsDefinition]:
    owner = settings.orchestration.asset_owner
    specs = [
        _spec(
            "mart_staffing_hourly",
            ["mart_contact_kpis_hourly", "mart_agent_occupancy_hourly", "kpi_contacts"],
            "Agents required per tenant, channel and hour (Erlang C and A) against the agents "
            "logged in (docs/staffing.md).\n\nSource: `warehouse/staffing.py`.",
            owner,
        ),
        _spec(
            "mart_forecast",
            ["mart_contact_kpis_hourly"],
            f"Offered contacts per tenant, channel and local hour for the {FORECAST_WEEKS} weeks "
            "after the marts' last complete day (docs/forecast.md).\n\nSource: "
            "`warehouse/forecast.py`.",
            owner,
        ),
        _spec(
            "mart_forecast_backtest",
            ["mart_contact_kpis_hourly"],
            "MAPE and WAPE of the forecast method on the last week of history "
            "(docs/forecast.md).\n\nSource: `warehouse/forecast.py`.",
            owner,
        ),
    ]

    @multi_asset(
        name="planning",
        specs=specs,
        partitions_def=partitions,
        backfill_policy=SINGLE_RUN,
    )
    def planning(
        context: AssetExecutionContext, warehouse: WarehouseResource
    ) -> Iterator[MaterializeResult]:
        """Write the staffing requirement of the run's days and the forecast after them."""
        from warehouse.forecast import forecast_history, load_history, write_forecast
        from warehouse.kpis import current_knob_set
        from warehouse.staffing import write_staffing

        date_from, date_to = partition_days(context)
        current = warehouse.settings()
        knob_set = current_knob_set(current)
        outcome: dict = {}

        def write(con) -> None:
            outcome["staffing_rows"] = write_staffing(con, date_from, date_to, current)
            # The forecast is always of the weeks ahead, whatever days the run refreshed (a
            # backfill of old days must not replace it with one made from their history): from
            # the marts' last day, the day in progress not being history.
            (stored,) = con.execute(
                "select max(day) from mart_contact_kpis_hourly where knob_set = ?", [knob_set]
            ).fetchone()
            history_to = min(stored or date_to, today(current) - timedelta(days=1))
            run = forecast_history(load_history(con, current, history_to), FORECAST_WEEKS)
            write_forecast(con, run, knob_set, datetime.now(UTC))
            outcome["run"] = run

        path = warehouse.build(marts=write)
        run = outcome["run"]
        pooled = next((b for b in run.backtests if b.tenant is None), None)
        common = {"warehouse": MetadataValue.path(path), "knob_set": knob_set}
        yield MaterializeResult(
            asset_key="mart_staffing_hourly",
            metadata={
                **common,
                "days": f"{date_from}..{date_to}",
                "rows_of_the_days": outcome["staffing_rows"],
            },
        )
        yield MaterializeResult(
            asset_key="mart_forecast",
            metadata={
                **common,
                "history_to": str(run.history_to),
                "rows": len(run.rows),
                "skipped": MetadataValue.json(
                    {f"{t} {c}": why for (t, c), why in sorted(run.skipped.items())}
                ),
            },
        )
        yield MaterializeResult(
            asset_key="mart_forecast_backtest",
            metadata={
                **common,
                "pooled": MetadataValue.json(asdict(pooled.errors) if pooled else None),
            },
        )

    @asset(
        name="opt_out_violation_alerts",
        group_name=ALERTS_GROUP,
        deps=["mart_opt_out_violations"],
        partitions_def=partitions,
        backfill_policy=SINGLE_RUN,
        owners=[owner],
        description="Each opt-out violation of the run's days sent once to the [alerts] "
        "channels: signed webhooks and e-mail (docs/outbound.md, Alerts).\n\nSource: "
        "`orchestration/alerts/compliance.py`.",
    )
    def opt_out_violation_alerts(
        context: AssetExecutionContext, warehouse: WarehouseResource
    ) -> MaterializeResult:
        """Send the violations of the run's days that no channel has had yet."""
        from orchestration.alerts.compliance import deliver_violation_alerts, has_channels
        from warehouse.outbound import opt_out_violations

        date_from, date_to = partition_days(context)
        current = warehouse.settings()
        with warehouse.read() as con:
            violations = opt_out_violations(con, date_from, date_to, current)
        counts = deliver_violation_alerts(current, violations)
        if counts.failed:
            context.log.error(f"{counts.failed} opt-out violation alert(s) failed to deliver")
        return MaterializeResult(
            metadata={
                "days": f"{date_from}..{date_to}",
                "violations": counts.violations,
                "delivered": counts.delivered,
                "failed": counts.failed,
                "already_sent": counts.skipped,
                "channels": has_channels(current),
            }
        )

    return [planning, opt_out_violation_alerts]
