"""``omnicx forecast [--weeks N] [--tenant T] [--holdout-weeks W] [--history-to DATE]
[--format table|csv|json]``: offered contacts per tenant, channel and local hour for the next
weeks, with the backtest error, from ``mart_contact_kpis_hourly`` (``warehouse.forecast``).

The forecast and its backtest are stored in the warehouse (``mart_forecast``,
``mart_forecast_backtest``) by a warehouse build, as ``omnicx refresh`` stores the marts: the
new file is swapped in whole, so readers never see half of a forecast."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table

from orchestration.commands.options import tabular_format
from schemas.settings import Settings

if TYPE_CHECKING:
    from warehouse.forecast import ForecastRun

DAY = click.DateTime(formats=["%Y-%m-%d"])
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@click.command()
@click.option("--weeks", default=2, show_default=True, type=click.IntRange(1, 26))
@click.option("--tenant", help="Only this tenant; default: every tenant.")
@click.option(
    "--holdout-weeks",
    default=1,
    show_default=True,
    type=click.IntRange(1, 8),
    help="Last weeks of history the backtest forecasts from the weeks before them.",
)
@click.option(
    "--history-to",
    type=DAY,
    help="Last day of history (each tenant's local day); default: the day before the latest "
    "day in progress, or the marts' last day if earlier.",
)
@tabular_format
@click.pass_obj
def forecast(
    settings: Settings,
    weeks: int,
    tenant: str | None,
    holdout_weeks: int,
    history_to: datetime | None,
    fmt: str,
) -> None:
    """Forecast offered contacts per tenant, channel and local hour for the next --weeks weeks
    (mean of the same weekday and hour over the last 4 weeks, times a linear weekly trend), and
    backtest the method on the last --holdout-weeks weeks of history (MAPE over hours with
    contacts, WAPE). Prints the forecast per tenant, channel, week and weekday and the errors;
    stores them in mart_forecast and mart_forecast_backtest."""
    import duckdb

    from orchestration.partitions import today
    from warehouse.build import WarehouseMissing, build_warehouse, connect_read_only
    from warehouse.forecast import forecast_history, load_history, write_forecast
    from warehouse.kpi_marts import knob_set_id, mart_knobs

    try:
        with connect_read_only(settings) as con:
            (stored_last,) = con.execute("select max(day) from mart_contact_kpis_hourly").fetchone()
    except (duckdb.Error, WarehouseMissing) as exc:
        raise click.ClickException(f"{exc} (run `omnicx refresh` first)") from None
    if stored_last is None:
        raise click.ClickException("the KPI marts hold no contacts (run `omnicx refresh` first)")
    last = history_to.date() if history_to else min(stored_last, today(settings) - timedelta(1))
    runs: list[ForecastRun] = []

    def store(con: duckdb.DuckDBPyConnection) -> None:
        history = load_history(con, settings, last, tenant)
        run = forecast_history(history, weeks, holdout_weeks)
        if not run.rows:  # raised in the build: the warehouse file is left as it was
            raise click.ClickException(
                f"no tenant x channel has a complete week of history to {last}"
            )
        write_forecast(con, run, knob_set_id(mart_knobs(settings)), datetime.now(UTC))
        runs.append(run)

    build_warehouse(settings, marts=store)
    (run,) = runs
    for (name, channel), why in sorted(run.skipped.items()):
        click.echo(f"{name} {channel}: {why}", err=True)
    summary = _summary(run)
    if fmt == "table":
        _tables(run, summary)
    else:
        from warehouse.query import Result, render

        columns = list(summary[0])
        click.echo(render(Result(columns, [tuple(r.values()) for r in summary]), fmt))


def _summary(run: ForecastRun) -> list[dict]:
    """One row per tenant x channel x forecast week: offered per weekday and in the week, and
    the backtest errors of that tenant x channel (fractions)."""
    by_week: dict[tuple[str, str, date], list[float]] = defaultdict(lambda: [0.0] * 7)
    first = run.history_to + timedelta(days=1)
    for row in run.rows:
        week_start = first + timedelta(days=7 * ((row.hour.date() - first).days // 7))
        by_week[(row.tenant, row.channel, week_start)][row.hour.weekday()] += row.offered
    errors = {(t.tenant, t.channel): t.errors for t in run.backtests}
    summary = []
    for (name, channel, week_start), days in sorted(by_week.items()):
        tested = errors.get((name, channel))
        summary.append(
            {
                "tenant": name,
                "channel": channel,
                "week_from": week_start,
                **dict(zip(WEEKDAYS, days, strict=True)),
                "week": sum(days),
                "backtest_mape": tested.mape if tested else None,
                "backtest_wape": tested.wape if tested else None,
            }
        )
    return summary


def _tables(run: ForecastRun, summary: list[dict]) -> None:
    forecast = Table(title=f"Forecast offered contacts ({run.method.name})")
    forecast.add_column("tenant")
    forecast.add_column("channel")
    forecast.add_column("week from", justify="right", min_width=10, no_wrap=True)
    for column in (*WEEKDAYS, "week"):
        forecast.add_column(column, justify="right")
    for row in summary:
        counts = [f"{row[day]:,.0f}" for day in (*WEEKDAYS, "week")]
        forecast.add_row(row["tenant"], row["channel"], str(row["week_from"]), *counts)
    # every backtest of a run holds out the same days
    held_out = (
        f"{run.backtests[0].holdout_from}..{run.backtests[0].holdout_to}" if run.backtests else "-"
    )
    backtest = Table(title=f"Backtest: {held_out} held out, forecast from the weeks before")
    backtest.add_column("tenant")
    backtest.add_column("channel")
    for column in ("hours", "actual", "forecast", "MAPE", "WAPE"):
        backtest.add_column(column, justify="right")
    for test in run.backtests:
        e = test.errors
        backtest.add_row(
            test.tenant or "all",
            test.channel or "all",
            str(e.intervals),
            f"{e.actual:,.0f}",
            f"{e.forecast:,.0f}",
            _percent(e.mape),
            _percent(e.wape),
        )
    console = Console(highlight=False)
    with console.capture() as captured:
        console.print(forecast, backtest, sep="\n")
    click.echo("\n".join(line.rstrip() for line in captured.get().splitlines()))
    click.echo(
        "MAPE: mean of |forecast - actual| / actual over hours with contacts; "
        "WAPE: sum of |forecast - actual| / sum of actual. "
        "Stored in mart_forecast and mart_forecast_backtest."
    )


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"
