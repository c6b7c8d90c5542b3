"""``omnicx report [--period day|week|month [--day D] | --from D --to D] [--tenant NAME]
[--format html|pdf ...] [--out DIR]``: an executive KPI report (docs/reports.md) written from the
published warehouse, its paths printed one a line."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from schemas.settings import Settings

DAY = click.DateTime(formats=["%Y-%m-%d"])


@click.command()
@click.option(
    "--period",
    "kind",
    type=click.Choice(["day", "week", "month"]),
    default=None,
    help="The day, week (Monday to Sunday) or calendar month holding --day; default: week.",
)
@click.option(
    "--day",
    type=DAY,
    default=None,
    help="A day of the period (the tenant's reporting day); default: yesterday in the tenant's "
    "time zone, or the data's last day when the data end earlier.",
)
@click.option("--from", "date_from", type=DAY, help="First day of a range (instead of --period).")
@click.option(
    "--to", "date_to", type=DAY, help="Last day of the range, inclusive; default: --from."
)
@click.option(
    "--tenant",
    default=None,
    help="One tenant (client brand); default: every tenant together.",
)
@click.option(
    "--format",
    "formats",
    type=click.Choice(["html", "pdf"]),
    multiple=True,
    help="Repeat for both; default: html and pdf.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder to write into; default: $OMNICX_HOME/reports.",
)
@click.pass_obj
def report(
    settings: Settings,
    kind: str | None,
    day: datetime | None,
    date_from: datetime | None,
    date_to: datetime | None,
    tenant: str | None,
    formats: tuple[str, ...],
    out: Path | None,
) -> None:
    """Write the KPI report of a period: headline tiles against targets, trends, volume, the
    omnichannel view, reasons, queues and agents, churn risk, data quality and definitions, as
    self-contained HTML and as PDF."""
    import duckdb

    from orchestration.reports.model import Period
    from orchestration.reports.output import NoReportData, default_period, last_data_day
    from orchestration.reports.output import write_report as write
    from warehouse.build import WarehouseMissing
    from warehouse.kpis import KnobSetMissing
    from warehouse.tenant_warehouse import connect_scope

    if date_from is None and date_to is not None:
        raise click.BadParameter("--to needs --from", param_hint="--to")
    if date_from is not None and (kind is not None or day is not None):
        raise click.BadParameter("give either --period/--day or --from/--to", param_hint="--from")
    try:
        if date_from is not None:
            last = (date_to or date_from).date()
            if last < date_from.date():
                raise click.BadParameter(f"{last} is before --from", param_hint="--to")
            period = Period.between(date_from.date(), last)
        elif day is not None:
            period = Period.ending(kind or "week", day.date())
        else:
            with connect_scope(settings, tenant) as con:
                data_last = last_data_day(con, tenant)
            period = default_period(kind or "week", settings, tenant, data_last, datetime.now(UTC))
        refresh = f"run `omnicx refresh --from {period.first_day} --to {period.last_day}`"
        try:
            paths = write(settings, period, tenant, formats or ("html", "pdf"), out)
        except NoReportData as exc:
            raise click.ClickException(f"{exc} ({refresh}, or choose another period)") from None
        except KnobSetMissing as exc:
            raise click.ClickException(f"{exc} ({refresh} with the current knobs)") from None
    except (WarehouseMissing, duckdb.Error) as exc:
        raise click.ClickException(f"{exc} (run `omnicx refresh` for the period first)") from None
    for path in paths:
        click.echo(str(path))
