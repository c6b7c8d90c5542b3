"""``omnicx staffing --from DATE [--to DATE] [--tenant T] [--format table|csv|json]``: the agents
each hour needed (Erlang C, and Erlang A with the measured patience) against the agents logged
in, from the marts (``warehouse.staffing``, docs/staffing.md).

On a terminal one table per tenant and day, in people's units (percent, m:ss), the hours where
fewer agents were logged in than required in red; in CSV and JSON every field exact (fractions,
seconds, Erlangs), one row per tenant, channel and hour plus the tenant's ``all`` row."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import click
from rich.console import Console
from rich.table import Table

from orchestration.commands.options import tabular_format
from orchestration.kpi_view import duration
from schemas.settings import Settings

DAY = click.DateTime(formats=["%Y-%m-%d"])
NONE = "-"
STYLE = {"under": "bold red", "over": "yellow", "ok": "green"}


@click.command()
@click.option("--from", "date_from", type=DAY, help="First day (each tenant's local day).")
@click.option("--to", "date_to", type=DAY, help="Last day, inclusive; default: --from.")
@click.option("--tenant", help="Only this tenant; default: every tenant.")
@click.option(
    "--forecast",
    "forecast_weeks",
    type=click.IntRange(1, 26),
    help="Instead of measured days: the requirement of the forecast offered contacts of the "
    "next WEEKS weeks (omnicx forecast's method) after the last complete day, with the AHT "
    "of the 4 weeks before it.",
)
@click.option(
    "--interval",
    "interval_minutes",
    type=click.Choice(["15", "30", "60"]),
    help="Interval length in minutes; default: [staffing] interval_minutes (60).",
)
@tabular_format
@click.pass_obj
def staffing(
    settings: Settings,
    date_from: datetime | None,
    date_to: datetime | None,
    tenant: str | None,
    forecast_weeks: int | None,
    interval_minutes: str | None,
    fmt: str,
) -> None:
    """Agents required per hour to meet each channel's service-level target (Erlang C on the
    measured offered contacts and AHT; threshold from [kpis], target from [targets]), with the
    service level, ASA, P(wait) and occupancy they would give, the positions to schedule with
    [staffing] shrinkage, the Erlang A requirement (abandons, with the measured patience), and
    per tenant and hour the agents logged in: under-, over- or well staffed."""
    import duckdb

    from warehouse.build import WarehouseMissing, connect_read_only
    from warehouse.staffing import staffing as intervals_of

    minutes = int(interval_minutes) if interval_minutes else settings.staffing.interval_minutes
    if forecast_weeks is not None:
        if date_from or date_to:
            raise click.UsageError("--forecast sizes the weeks after the history: no --from/--to")
        if minutes != 60:
            raise click.UsageError("--forecast sizes hours: the forecast is per hour")
        intervals = _forecast_intervals(settings, forecast_weeks, tenant)
    elif date_from is None:
        raise click.UsageError("give --from (measured days) or --forecast WEEKS")
    else:
        first = date_from.date()
        last = date_to.date() if date_to else first
        if last < first:
            raise click.BadParameter(f"{last} is before --from {first}", param_hint="--to")
        refresh = f"run `omnicx refresh --from {first} --to {last}` first"
        try:
            with connect_read_only(settings) as con:
                intervals = intervals_of(con, first, last, settings, tenant, minutes)
        except (duckdb.Error, WarehouseMissing) as exc:
            raise click.ClickException(f"{exc} ({refresh})") from None
        if not intervals:
            raise click.ClickException(
                f"the marts hold no contacts for {first}..{last} ({refresh})"
            )
    if fmt != "table":
        from warehouse.query import Result, render

        columns = [f.name for f in dataclasses.fields(intervals[0])]
        rows = [dataclasses.astuple(i) for i in intervals]
        click.echo(render(Result(columns, rows), fmt))
        return
    console = Console(highlight=False)
    days: dict[tuple, list] = {}
    for interval in intervals:
        days.setdefault((interval.tenant, interval.day), []).append(interval)
    for (name, day), rows in days.items():
        console.print(_table(f"{name} {day}", rows))
    under = sum(i.status == "under" for i in intervals)
    shrinkage = settings.staffing.shrinkage
    console.print(
        ("Forecast hours: no agents logged in to compare. " if forecast_weeks else "")
        + f"{under} under-staffed {'hour' if minutes == 60 else f'{minutes}-minute interval'}"
        + "(s). Required: Erlang C agents for the channel's target; "
        f"positions: required / (1 - shrinkage {shrinkage:g}); logged in: mean agents "
        "available, busy or in after-contact work over the hour; Erlang A: with abandons."
    )


def _table(title: str, rows: list) -> Table:
    table = Table(title=title, title_justify="left")
    for name in (
        "hour",
        "channel",
        "offered",
        "AHT",
        "Erlangs",
        "target",
        "required",
        "SL",
        "ASA",
        "P(wait)",
        "occupancy",
        "positions",
        "Erlang A",
        "logged in",
        "status",
    ):
        table.add_column(name, justify="left" if name in ("hour", "channel") else "right")
    for i in rows:
        total = i.channel == "all"
        table.add_row(
            i.hour.strftime("%H:%M"),
            i.channel,
            f"{i.offered:,.1f}" if isinstance(i.offered, float) else f"{i.offered:,}",
            duration(i.aht) if i.aht is not None else NONE,
            f"{i.traffic:.1f}",
            f"{_percent(i.target)} in {duration(i.threshold)}" if i.threshold else NONE,
            str(i.required),
            _percent(i.service_level),
            duration(i.asa) if i.asa is not None else NONE,
            _percent(i.p_wait),
            _percent(i.occupancy),
            str(i.positions),
            str(i.required_a) if i.required_a is not None else NONE,
            f"{i.logged_in:.1f}" if i.logged_in is not None else NONE,
            i.status or "",
            style=STYLE.get(i.status or "", "") if total else "dim",
        )
    return table


def _percent(fraction: float | None) -> str:
    return NONE if fraction is None else f"{100 * fraction:.1f}%"


def _forecast_intervals(settings: Settings, weeks: int, tenant: str | None) -> list:
    """The requirement of the forecast weeks after the marts' last complete day (the day
    before the day in progress at most), AHT and patience from the season weeks before."""
    import duckdb

    from orchestration.partitions import today
    from warehouse.build import WarehouseMissing, connect_read_only
    from warehouse.forecast import SEASON_WEEKS, forecast_offered
    from warehouse.staffing import forecast_staffing

    try:
        with connect_read_only(settings) as con:
            (stored_last,) = con.execute("select max(day) from mart_contact_kpis_hourly").fetchone()
            if stored_last is None:
                raise click.ClickException("the KPI marts hold no contacts (run `omnicx refresh`)")
            last = min(stored_last, today(settings) - timedelta(days=1))
            rows = forecast_offered(con, settings, last, weeks, tenant)
            first = last - timedelta(days=7 * SEASON_WEEKS - 1)
            intervals = forecast_staffing(con, settings, rows, first, last)
    except (duckdb.Error, WarehouseMissing) as exc:
        raise click.ClickException(f"{exc} (run `omnicx refresh` first)") from None
    if not intervals:
        raise click.ClickException(
            f"nothing to forecast: no tenant x channel has a complete week of history to {last}"
        )
    return intervals
