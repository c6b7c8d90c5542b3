"""``omnicx tenants``: every configured tenant with its effective settings, and ``omnicx tenants
remove`` to offboard one (docs/tenancy.md)."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console
from rich.table import Table

from orchestration.commands.options import tabular_format
from orchestration.commands.tenants_remove import remove
from schemas.settings import TENANT_KPI_KNOBS, Settings

COLUMNS = (
    "tenant",
    "display_name",
    "time_zone",
    "kpi_knobs",
    "targets",
    "webhooks",
    "alert_recipients",
    "report_periods",
    "report_hour",
    "report_recipients",
    "retention_days",
    "own_warehouse",
)


def tenant_rows(settings: Settings) -> list[dict[str, Any]]:
    """One row per tenant of ``[tenants]`` or ``[warehouse] tenant_warehouses``: its settings as
    in force, a tenant's own values over the deployment's."""
    names = sorted(set(settings.tenants) | set(settings.warehouse.tenant_warehouses))
    rows = []
    for name in names:
        tenant = settings.tenant(name)
        knobs = settings.tenant_kpis(name)
        own_file = name in settings.warehouse.tenant_warehouses
        rows.append(
            {
                "tenant": name,
                "display_name": tenant.display_name or name,
                "time_zone": tenant.time_zone,
                # the effective value of every knob a tenant can set; its own ones marked
                "kpi_knobs": {k: getattr(knobs, k) for k in TENANT_KPI_KNOBS},
                "own_kpi_knobs": sorted(tenant.kpis),
                "targets": sorted(tenant.targets),
                # the endpoints its alerts go to: the deployment's for every tenant, its own
                "webhooks": [
                    hook.name
                    for hook in settings.alerts.webhooks
                    if not hook.tenants or name in hook.tenants
                ],
                "alert_recipients": list(settings.alerts.email.recipients_for(name)),
                "report_periods": list(tenant.report_periods),
                "report_hour": tenant.report_hour,
                "report_recipients": list(tenant.report_recipients),
                "retention_days": tenant.retention_days,
                "own_warehouse": str(settings.tenant_warehouse_file(name)) if own_file else None,
            }
        )
    return rows


@click.group(invoke_without_command=True)
@tabular_format
@click.pass_context
def tenants(context: click.Context, fmt: str) -> None:
    """The tenants of the settings ([tenants.NAME] tables, [warehouse] tenant_warehouses) with
    their effective settings: reporting time zone, KPI knobs (their own marked *), targets,
    alert endpoints and recipients, report schedule, retention and own warehouse file.
    `omnicx tenants remove NAME` deletes one tenant's data everywhere."""
    if context.invoked_subcommand is not None:
        return
    settings: Settings = context.obj
    rows = tenant_rows(settings)
    if fmt != "table":
        from warehouse.query import Result, render

        columns = [*COLUMNS[:4], "own_kpi_knobs", *COLUMNS[4:]]
        click.echo(render(Result(columns, [tuple(r[c] for c in columns) for r in rows]), fmt))
        return
    if not rows:
        click.echo("no tenant configured (add [tenants.NAME] tables: docs/tenancy.md)")
        return
    console = Console(highlight=False)
    for row in rows:
        console.print(_table(row))
    console.print("Values marked * are the tenant's own; the others are the deployment's.")


def _table(row: dict[str, Any]) -> Table:
    """One tenant's effective settings, a line each."""
    title = row["tenant"]
    if row["display_name"] != row["tenant"]:
        title += f" ({row['display_name']})"
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("setting", style="bold")
    table.add_column("value")
    for setting, value in (
        ("time zone", row["time_zone"]),
        ("KPI knobs", _knobs(row)),
        ("own targets", ", ".join(row["targets"]) or "none (the deployment's)"),
        ("alerts to", "\n".join([*row["webhooks"], *row["alert_recipients"]]) or "nowhere"),
        ("reports", _reports(row)),
        ("retention", f"{row['retention_days']} days" if row["retention_days"] else "kept"),
        ("own warehouse", row["own_warehouse"] or "no"),
    ):
        table.add_row(setting, value)
    return table


def _knobs(row: dict[str, Any]) -> str:
    own = set(row["own_kpi_knobs"])
    return "\n".join(
        f"{name.removesuffix('_seconds')} {value:g} s{' *' if name in own else ''}"
        for name, value in row["kpi_knobs"].items()
    )


def _reports(row: dict[str, Any]) -> str:
    periods = "+".join({"day": "daily", "week": "weekly"}[p] for p in row["report_periods"])
    to = ", ".join(row["report_recipients"]) or "nobody"
    return f"{periods or 'none'} at {row['report_hour']:02d}:00\nto {to}"


tenants.add_command(remove)
