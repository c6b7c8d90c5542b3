"""``omnicx kpis --from DATE --to DATE [--by ...] [--knobs ID|all] [--long]
[--format table|csv|json]``: KPI values read from the marts (``warehouse.kpis.kpi_values``).

By default one row per group with the KPIs as columns (``orchestration.kpi_view``): on a
terminal in people's units, rounded, in tables of KPI families; in CSV and JSON exact, each
KPI's unit in its header or key. ``--long`` gives one row per KPI and group, with numerator and
denominator.

By default the rows of the knob set the current settings give; when the marts hold the days only
under other knob sets the command fails naming them and the refresh that computes the current
one, rather than show numbers made with other knobs."""

from __future__ import annotations

from datetime import datetime

import click
from rich.console import Console

from orchestration.kpi_view import LEGEND, tables, wide_rows
from schemas.settings import Settings
from warehouse.kpis import ALL_KNOB_SETS, DIMENSIONS, KnobSetMissing, format_days

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
    "--knobs",
    "knob_set",
    metavar="ID|all",
    help="Read the rows of this stored knob set, or of every set (`all`, each row with its "
    "knob_set); default: the knob set of the current settings.",
)
@click.option(
    "--long",
    "long_form",
    is_flag=True,
    help="One row per KPI and group: exact value, numerator, denominator and knob set, the "
    "overall figures that mix channels included.",
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
    knob_set: str | None,
    long_form: bool,
    fmt: str,
) -> None:
    """Every KPI of kpis.md over the days, recomputed from the marts' counts (never an average
    of averages), with the knob set that produced it (by default the current settings'; see
    --knobs).

    By default one row per group with the KPIs as columns: as tables of KPI families in the
    units people use (percent, m:ss, NPS points), or, in CSV and JSON, exact (fractions,
    seconds) under headers and keys that name the unit ("asa.v1 (seconds)"). Service level, ASA
    and first response mix thresholds or units across channels: without "channel" in --by they
    are shown per channel. --long: one row per KPI and group (JSON objects with kpi, value, the
    grouping columns, numerator, denominator, knob_set and knobs)."""
    import duckdb

    from warehouse.build import WarehouseMissing, connect_read_only
    from warehouse.kpis import knob_set_days, kpi_values, stored_knob_sets

    first = date_from.date()
    last = date_to.date() if date_to else first
    if last < first:
        raise click.BadParameter(f"{last} is before --from {first}", param_hint="--to")
    refresh = f"run `omnicx refresh --from {first} --to {last}` first"
    try:
        with connect_read_only(settings) as con:
            stored = stored_knob_sets(con)
            if knob_set not in (None, ALL_KNOB_SETS, *stored):
                raise click.BadParameter(
                    f"no knob set {knob_set} in the marts (choose among "
                    f"{', '.join([*stored, ALL_KNOB_SETS])})",
                    param_hint="--knobs",
                )
            rows = kpi_values(con, first, last, by, settings, knob_set)
            split = not long_form and "channel" not in by
            by_channel = [*by, "channel"]
            channel_rows = (
                kpi_values(con, first, last, by_channel, settings, knob_set) if split else []
            )
            held = knob_set_days(con, first, last)
    except KnobSetMissing as missing:
        message = _missing_message(missing, explicit=knob_set is not None)
        raise click.ClickException(message) from None
    except (duckdb.Error, WarehouseMissing) as exc:
        raise click.ClickException(f"{exc} ({refresh})") from None
    if not any(row["value"] is not None for row in rows):
        raise click.ClickException(f"the KPI marts hold no data for {first}..{last} ({refresh})")
    if long_form:
        _long(rows, by, fmt)
    else:
        _wide(wide_rows(rows, by, channel_rows), by, fmt)
    if fmt == "table":
        for shown, knobs in _knob_sets(rows).items():
            values = ", ".join(f"{name}={value}" for name, value in sorted(knobs.items()))
            click.echo(f"knob set {shown}: {values}")
        others = sorted(set(held) - {row["knob_set"] for row in rows})
        if others:
            click.echo(f"also stored for these days: knob sets {', '.join(others)} (see --knobs)")


def _long(rows: list[dict], by: list[str], fmt: str) -> None:
    from warehouse.query import Result, render

    if fmt == "json":
        columns = ["kpi", "value", *by, "numerator", "denominator", "knob_set", "knobs"]
    elif fmt == "csv":
        columns = ["kpi", *by, "value", "numerator", "denominator", "knob_set", "knobs"]
    else:
        columns = ["kpi", *by, "value", "numerator", "denominator", "knob_set"]
    click.echo(render(Result(columns, [tuple(r[c] for c in columns) for r in rows]), fmt))


def _wide(wide: list[dict], by: list[str], fmt: str) -> None:
    if fmt != "table":
        from warehouse.query import Result, render

        columns = list(dict.fromkeys(name for row in wide for name in row))
        click.echo(render(Result(columns, [tuple(r.get(c) for c in columns) for r in wide]), fmt))
        return
    console = Console(highlight=False)
    for title, table in tables(wide, by, console.width):
        with console.capture() as captured:
            console.print(title)
            console.print(table)
        # rich pads every line to the table's width: no trailing blanks in a file or a pipe
        click.echo("\n".join(line.rstrip() for line in captured.get().splitlines()) + "\n")
    console.print(LEGEND)


def _missing_message(missing: KnobSetMissing, *, explicit: bool) -> str:
    """One line: which knob sets hold the days, with the knobs in which they differ from the
    set asked for, and the ways out (refresh the current knobs, or choose a stored set)."""
    wanted = missing.knobs or {}
    differing = sorted(
        {
            name
            for knobs in missing.others.values()
            for name in {*knobs, *wanted}
            if knobs.get(name) != wanted.get(name)
        }
    )

    def described(knob_set: str, knobs: dict) -> str:
        values = ", ".join(f"{name}={_number(knobs.get(name))}" for name in differing)
        return f"{knob_set} ({values or 'other definitions'})"

    others = ", ".join(described(other, knobs) for other, knobs in missing.others.items())
    choices = "|".join([*missing.others, ALL_KNOB_SETS])
    days = format_days(missing.days)
    held = f"the marts hold {days} for knob sets {others}"
    if explicit:
        return f"{held}, not for knob set {missing.knob_set} (choose one with --knobs {choices})"
    refresh = f"omnicx refresh --from {missing.days[0]} --to {missing.days[-1]}"
    return (
        f"{held}, not for the current knobs {described(missing.knob_set, wanted)} "
        f"(run `{refresh}` to compute them, or choose one with --knobs {choices})"
    )


def _number(value: object) -> object:
    """20.0 -> 20, as a user writes a knob; other values as they are."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _knob_sets(rows: list[dict]) -> dict[str, dict]:
    """Every knob value each knob set of the rows reported."""
    sets: dict[str, dict] = {}
    for row in rows:
        sets.setdefault(row["knob_set"], {}).update(row["knobs"])
    return sets
