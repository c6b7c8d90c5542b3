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

from collections.abc import Mapping
from datetime import date, datetime

import click
from rich.console import Console

from orchestration.commands.options import tabular_format
from orchestration.kpi_view import (
    LEGEND,
    NOT_REPRODUCIBLE,
    compare_rows,
    compare_table,
    header,
    tables,
    wide_rows,
)
from schemas.profiles import DEFAULT, PROFILES, Profile, UnknownProfile, profile
from schemas.settings import Settings
from warehouse.kpis import ALL_KNOB_SETS, DIMENSIONS, HOUR_UTC, KnobSetMissing, format_days

DAY = click.DateTime(formats=["%Y-%m-%d"])


def _dimensions(_ctx, _param, value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in DIMENSIONS]
    if unknown:
        raise click.BadParameter(f"{unknown}: choose among {', '.join(DIMENSIONS)}")
    return names


@click.command()
@click.option(
    "--from", "date_from", type=DAY, required=True, help="First day (each tenant's local day)."
)
@click.option("--to", "date_to", type=DAY, help="Last day, inclusive; default: --from.")
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
    "--profile",
    "profile_name",
    metavar="NAME",
    help="A vendor's definitions (docs/kpis.md, Vendor definitions): "
    f"{', '.join(PROFILES)}; its knob set comes from `omnicx refresh --profile NAME`.",
)
@click.option(
    "--compare",
    metavar="NAME,NAME",
    help="One table: each KPI under omnicx's default definitions and under each of these "
    "profiles, side by side.",
)
@click.option(
    "--long",
    "long_form",
    is_flag=True,
    help="One row per KPI and group: exact value, numerator, denominator and knob set, the "
    "overall figures that mix channels included.",
)
@tabular_format
@click.pass_obj
def kpis(
    settings: Settings,
    date_from: datetime,
    date_to: datetime | None,
    by: list[str],
    knob_set: str | None,
    profile_name: str | None,
    compare: str | None,
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
    grouping columns, numerator, denominator, knob_set and knobs).

    --profile NAME: the numbers under a vendor's definitions; --compare a,b: each KPI under
    omnicx's default definitions and each profile's, side by side (exact in CSV and JSON)."""
    import duckdb

    from warehouse.build import WarehouseMissing, connect_read_only
    from warehouse.kpis import knob_set_days, kpi_values, stored_knob_sets

    first = date_from.date()
    last = date_to.date() if date_to else first
    if last < first:
        raise click.BadParameter(f"{last} is before --from {first}", param_hint="--to")
    chosen = _profile(profile_name, "--profile")
    if compare is not None:
        if knob_set is not None or chosen is not None or long_form:
            raise click.UsageError("--compare goes without --knobs, --profile and --long")
        names = [n.strip() for n in compare.split(",") if n.strip()]
        profiles = [_profile(n, "--compare") for n in dict.fromkeys([DEFAULT, *names])]
        _compare(settings, first, last, by, profiles, fmt)
        return
    if chosen is not None and knob_set is not None:
        raise click.UsageError("--profile chooses its own knob set: leave out --knobs")
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
            rows = kpi_values(con, first, last, by, settings, knob_set, chosen)
            # the per-channel KPIs of the wide form when --by has no channel
            split = not long_form and "channel" not in by
            by_channel = [*by, "channel"]
            channel_rows = (
                kpi_values(con, first, last, by_channel, settings, knob_set, chosen)
                if split
                else []
            )
            held = knob_set_days(con, first, last)
    except KnobSetMissing as missing:
        message = _missing_message(missing, explicit=knob_set is not None, profile=chosen)
        raise click.ClickException(message) from None
    except (duckdb.Error, WarehouseMissing) as exc:
        raise click.ClickException(f"{exc} ({refresh})") from None
    if not any(row["value"] is not None for row in rows):
        raise click.ClickException(f"the KPI marts hold no data for {first}..{last} ({refresh})")
    # by hour: the local hour and the UTC instant it started (02:00 twice when DST ends)
    groups = [c for d in by for c in ((d, HOUR_UTC) if d == "hour" else (d,))]
    if long_form:
        _long(rows, groups, fmt)
    else:
        _wide(wide_rows(rows, groups, channel_rows), groups, fmt)
    if fmt == "table":
        if chosen is not None:
            click.echo(f"profile {chosen.name}: {chosen.title}")
            for why, kpis in _by_reason(chosen.not_reproducible).items():
                click.echo(f"  {', '.join(kpis)} not shown: {why}")
            for why, kpis in _by_reason(chosen.caveats).items():
                click.echo(f"  {', '.join(kpis)}: {why}")
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

        columns = header(wide)
        click.echo(render(Result(columns, [tuple(r.get(c) for c in columns) for r in wide]), fmt))
        return
    console = Console(highlight=False)
    for title, table in tables(wide, by, console.width):
        _print(console, title, table, "")
    _print(console, LEGEND)


def _print(console: Console, *renderables: object) -> None:
    """Print through rich without the blanks it pads each line with to the table's width."""
    with console.capture() as captured:
        console.print(*renderables, sep="\n")
    click.echo("\n".join(line.rstrip() for line in captured.get().splitlines()))


def _profile(name: str | None, option: str) -> Profile | None:
    if name is None:
        return None
    try:
        return profile(name)
    except UnknownProfile as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


def _compare(
    settings: Settings,
    first: date,
    last: date,
    by: list[str],
    profiles: list[Profile],
    fmt: str,
) -> None:
    """Each KPI under every profile, side by side (``kpi_view.compare_rows``)."""
    import duckdb

    from warehouse.build import WarehouseMissing, connect_read_only
    from warehouse.kpis import kpi_values

    split = "channel" not in by
    groups = [c for d in by for c in ((d, HOUR_UTC) if d == "hour" else (d,))]
    wide_by_profile: dict[str, list[dict]] = {}
    knob_sets: dict[str, dict] = {}
    chosen = None
    try:
        with connect_read_only(settings) as con:
            for chosen in profiles:
                rows = kpi_values(con, first, last, by, settings, profile=chosen)
                by_channel = [*by, "channel"]
                channel_rows = (
                    kpi_values(con, first, last, by_channel, settings, profile=chosen)
                    if split
                    else []
                )
                wide_by_profile[chosen.name] = wide_rows(rows, groups, channel_rows)
                knob_sets[chosen.name] = _knob_sets(rows)
    except KnobSetMissing as missing:
        message = _missing_message(missing, explicit=False, profile=chosen)
        raise click.ClickException(message) from None
    except (duckdb.Error, WarehouseMissing) as exc:
        refresh = f"run `omnicx refresh --from {first} --to {last}` first"
        raise click.ClickException(f"{exc} ({refresh})") from None
    if not any(wide_by_profile.values()):
        raise click.ClickException(f"the KPI marts hold no data for {first}..{last}")
    compared = compare_rows(wide_by_profile, groups)
    if fmt != "table":
        from warehouse.query import Result, render

        columns = list(dict.fromkeys(c for r in compared for c in r))
        click.echo(
            render(Result(columns, [tuple(r.get(c) for c in columns) for r in compared]), fmt)
        )
        return
    console = Console(highlight=False)
    table = compare_table(compared, groups, {p.name: p.not_reproducible for p in profiles})
    _print(console, "KPIs under each definition", table, "")
    click.echo(
        f"{NOT_REPRODUCIBLE}: the contract's events cannot reproduce that vendor's definition"
    )
    for chosen in profiles:
        sets = ", ".join(knob_sets[chosen.name]) or "none"
        click.echo(f"{chosen.name}: {chosen.title} (knob set {sets})")
        for why, kpis in _by_reason({**chosen.not_reproducible, **chosen.caveats}).items():
            click.echo(f"  {', '.join(kpis)}: {why}")


def _by_reason(notes: Mapping[str, str]) -> dict[str, list[str]]:
    """KPI notes grouped by their text: one line for the KPIs sharing a reason."""
    grouped: dict[str, list[str]] = {}
    for kpi, why in notes.items():
        grouped.setdefault(why, []).append(kpi)
    return grouped


def _missing_message(
    missing: KnobSetMissing, *, explicit: bool, profile: Profile | None = None
) -> str:
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
    option = f" --profile {profile.name}" if profile is not None else ""
    refresh = f"omnicx refresh{option} --from {missing.days[0]} --to {missing.days[-1]}"
    knobs = f"the knobs of profile {profile.name}" if profile is not None else "the current knobs"
    return (
        f"{held}, not for {knobs} {described(missing.knob_set, wanted)} "
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
