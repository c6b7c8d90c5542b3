"""``omnicx outbound --from DATE [--to DATE] [--tenant T] [--violations] [--format
table|csv|json]``: the outbound KPIs per campaign and dialer mode, or the opt-out violations,
from the marts (``warehouse.outbound``, docs/outbound.md).

On a terminal, rates in percent and times in m:ss, then how many opt-out violations the days
hold; in CSV and JSON every figure exact (counts, fractions, seconds), one row per tenant,
campaign and dialer mode, or per violating attempt with ``--violations``."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import click
from rich.console import Console
from rich.table import Table

from orchestration.commands.options import tabular_format
from orchestration.kpi_view import duration
from schemas.settings import Settings

DAY = click.DateTime(formats=["%Y-%m-%d"])
NONE = "-"
RATES = ("connect_rate", "right_party_rate", "abandon_rate", "handle_time")


@click.command()
@click.option(
    "--from", "date_from", type=DAY, required=True, help="First day (each tenant's local day)."
)
@click.option("--to", "date_to", type=DAY, help="Last day, inclusive; default: --from.")
@click.option("--tenant", help="Only this tenant; default: every tenant.")
@click.option("--violations", is_flag=True, help="List the opt-out violations instead.")
@tabular_format
@click.pass_obj
def outbound(
    settings: Settings,
    date_from: datetime,
    date_to: datetime | None,
    tenant: str | None,
    violations: bool,
    fmt: str,
) -> None:
    """Outbound campaigns apart from the inbound KPIs: attempts, connect rate, right-party rate
    (where the dialer says), abandoned outbound calls and outbound handle time per tenant,
    campaign and dialer mode; with --violations, every attempt that reached a customer who had
    opted out of its campaign or of all contact (per stitched identity, docs/outbound.md)."""
    import duckdb

    from warehouse.build import WarehouseMissing, connect_read_only
    from warehouse.outbound import opt_out_violations, outbound_kpis

    first = date_from.date()
    last = date_to.date() if date_to else first
    if last < first:
        raise click.BadParameter(f"{last} is before --from {first}", param_hint="--to")
    try:
        with connect_read_only(settings) as con:
            campaigns = outbound_kpis(con, first, last, settings, tenant)
            found = opt_out_violations(con, first, last, settings, tenant)
    except (duckdb.Error, WarehouseMissing) as exc:
        raise click.ClickException(
            f"{exc} (run `omnicx refresh --from {first} --to {last}` first)"
        ) from None
    if fmt != "table":
        from warehouse.query import Result, render

        if violations:
            columns = [f.name for f in dataclasses.fields(found[0])] if found else ["event_id"]
            rows = [dataclasses.astuple(v) for v in found]
        else:
            columns = [f.name for f in dataclasses.fields(campaigns[0])] if campaigns else []
            columns += list(RATES) if campaigns else ["tenant"]
            rows = [
                (*dataclasses.astuple(c), *(getattr(c, rate) for rate in RATES)) for c in campaigns
            ]
        click.echo(render(Result(columns, rows), fmt))
        return
    console = Console(highlight=False)
    span = f"{first}" if first == last else f"{first} to {last}"
    if violations:
        console.print(_violations_table(f"Opt-out violations, {span}", found))
        return
    console.print(_campaigns_table(f"Outbound campaigns, {span}", campaigns))
    style = "bold red" if found else "green"
    console.print(
        f"[{style}]{len(found)} opt-out violation(s)[/{style}] "
        "(attempts to customers who had opted out: --violations lists them). Connect rate: "
        "connected / attempts; right-party: of the connected attempts whose dialer said; "
        "abandoned: connected, no agent answered; handle time: talk + hold + ACW."
    )


def _campaigns_table(title: str, campaigns: list) -> Table:
    table = Table(title=title, title_justify="left")
    for name in ("tenant", "campaign", "dialer", "attempts", "connect rate", "right party",
                 "abandoned", "abandon rate", "handle time"):  # fmt: skip
        table.add_column(
            name, justify="left" if name in ("tenant", "campaign", "dialer") else "right"
        )
    for c in campaigns:
        table.add_row(
            c.tenant,
            c.campaign or NONE,
            c.dialer or NONE,
            f"{c.attempts:,}",
            _percent(c.connect_rate),
            _percent(c.right_party_rate),
            f"{c.abandoned:,}",
            _percent(c.abandon_rate),
            duration(c.handle_time) if c.handle_time is not None else NONE,
        )
    return table


def _violations_table(title: str, found: list) -> Table:
    table = Table(title=title, title_justify="left")
    for name in ("day", "tenant", "campaign", "dialer", "contact", "opted out (UTC)",
                 "scope", "attempted (UTC)", "after"):  # fmt: skip
        table.add_column(name)
    for v in found:
        table.add_row(
            str(v.day),
            v.tenant,
            v.campaign or NONE,
            v.dialer or NONE,
            v.contact_id,
            f"{v.opted_out_at:%Y-%m-%d %H:%M:%S}",
            v.opt_out_scope,
            f"{v.attempted_at:%Y-%m-%d %H:%M:%S}",
            duration(v.seconds_after_opt_out),
        )
    return table


def _percent(fraction: float | None) -> str:
    return NONE if fraction is None else f"{100 * fraction:.1f}%"
