"""``omnicx kpis --from DATE --to DATE [--by ...] [--format table|csv|json]``: KPI values read
from the marts (``warehouse.kpis.kpi_values``)."""

from __future__ import annotations

from datetime import datetime

import click

from schemas.settings import Settings
from warehouse.kpis import DIMENSIONS

DAY = click.DateTime(formats=["%Y-%m-%d"])


def _dimensions(_ctx, _param, value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in DIMENSIONS]
    if unknown:
        raise click.BadParameter(f"{unknown}: choose among {', '.join(DIMENSIONS)}")
    return names


@click.command()
@click.option("--from", "date_from", type=DAY, required=True, help="First day (UTC).")
@click.option("--to", "date_to", type=DAY, help="Last day (UTC), inclusive; default: --from.")
@click.option(
    "--by",
    default="",
    callback=_dimensions,
    help=f"Comma-separated grouping, among {','.join(DIMENSIONS)}; default: the whole range.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
@click.pass_obj
def kpis(
    settings: Settings,
    date_from: datetime,
    date_to: datetime | None,
    by: list[str],
    fmt: str,
) -> None:
    """Every KPI of kpis.md over the days, recomputed from the marts' counts (never an average
    of averages), with the knob set that produced it. JSON is a list of objects with kpi, value,
    the grouping columns, numerator, denominator, knob_set and knobs."""
    import duckdb

    from warehouse.build import WarehouseMissing, connect_read_only
    from warehouse.kpis import kpi_values
    from warehouse.query import Result, render

    first = date_from.date()
    last = date_to.date() if date_to else first
    if last < first:
        raise click.BadParameter(f"{last} is before --from {first}", param_hint="--to")
    refresh = f"run `omnicx refresh --from {first} --to {last}` first"
    try:
        with connect_read_only(settings) as con:
            rows = kpi_values(con, first, last, by, settings)
    except (duckdb.Error, WarehouseMissing) as exc:
        raise click.ClickException(f"{exc} ({refresh})") from None
    if not any(row["value"] is not None for row in rows):
        raise click.ClickException(f"the KPI marts hold no data for {first}..{last} ({refresh})")
    if fmt == "json":
        columns = ["kpi", "value", *by, "numerator", "denominator", "knob_set", "knobs"]
    elif fmt == "csv":
        columns = ["kpi", *by, "value", "numerator", "denominator", "knob_set", "knobs"]
    else:
        columns = ["kpi", *by, "value", "numerator", "denominator", "knob_set"]
    click.echo(render(Result(columns, [tuple(r[c] for c in columns) for r in rows]), fmt))
    if fmt == "table":
        for knob_set, knobs in _knob_sets(rows).items():
            values = ", ".join(f"{name}={value}" for name, value in sorted(knobs.items()))
            click.echo(f"knob set {knob_set}: {values}")


def _knob_sets(rows: list[dict]) -> dict[str, dict]:
    """Every knob value each knob set of the rows reported."""
    sets: dict[str, dict] = {}
    for row in rows:
        sets.setdefault(row["knob_set"], {}).update(row["knobs"])
    return sets
