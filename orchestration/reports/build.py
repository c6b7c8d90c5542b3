"""Assemble a report (``orchestration.reports.model.Report``) from the warehouse.

Every KPI value comes from ``warehouse.kpis.kpi_values``, the reader of ``omnicx kpis``: the
marts' counts and sums over the period and the grouping asked for, added up, then divided,
never an average of daily averages. One knob set is read, the current settings' (as
``omnicx kpis`` does by default); statuses are judged by the targets in force
(``schemas.targets``). Here: the headline tiles, the charts and the definitions; the other
tables are ``tables`` and ``quality``'s. docs/reports.md, "What each section shows", defines
every section.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from orchestration.reports import planning, quality, tables
from orchestration.reports.kpis import KPI_BY_ID, KPIS, MORE_DEFINITIONS, ReportKpi
from orchestration.reports.model import Chart, Period, Report, Series, Table, Tile
from orchestration.reports.reader import Reader, plain_table
from schemas.knob_sets import configured_targets
from schemas.settings import Settings
from schemas.targets import CHANNELS, GOAL_BY_KPI, Target
from warehouse.kpis import stored_knob_sets

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
TRENDS = (  # chart key, KPI ids: a series each, or a series per channel for the first one
    ("trend_service_level", ("service_level.v1",)),  # when not comparable across channels
    ("trend_asa", ("asa.v1",)),
    ("trend_abandon_rate", ("abandon_rate.v1",)),
    ("trend_aht", ("aht.v1",)),
    ("trend_fcr", ("fcr.v1", "fcr_net.v1")),
    ("trend_nps", ("nps.v1",)),
    ("trend_csat", ("csat.v1",)),
    ("trend_ces", ("ces.v1",)),
)
SERIES_NAMES = {"fcr.v1": "gross", "fcr_net.v1": "net"}


def build_report(
    settings: Settings,
    con: duckdb.DuckDBPyConnection | None,
    period: Period,
    tenant: str | None,
    generated_at: datetime,
) -> Report:
    """The report of ``period`` for ``tenant`` (None: every tenant together), read from ``con``
    (None: the settings' warehouse, read-only). Raises ``warehouse.kpis.KnobSetMissing`` when
    the marts hold the period's days only under other knobs than the settings' (``omnicx
    refresh`` them first)."""
    if con is None:
        from warehouse.build import connect_read_only

        with connect_read_only(settings) as own:
            return build_report(settings, own, period, tenant, generated_at)
    reader = Reader(settings, con, period, tenant, generated_at)
    display_name = (settings.tenant(tenant).display_name or tenant) if tenant else "All tenants"
    top, bottom = tables.performers(reader)
    return Report(
        title=f"{display_name}: KPI report, {period.label}",
        tenant=tenant,
        display_name=display_name,
        time_zone=time_zone(reader),
        period=period,
        previous=period.previous(),
        generated_at=generated_at,
        tiles=tuple(
            tile(reader, kpi, channel)
            for kpi in KPIS
            for channel in ([None] if kpi.across_channels else reader.channels(kpi.id))
        ),
        trends=tuple(trend(reader, key, kpis) for key, kpis in TRENDS),
        volume_by_channel=volume_by_channel(reader),
        heatmap=heatmap(reader),
        omnichannel=tables.omnichannel(reader),
        journeys_crossed_share=tables.crossed_share(reader),
        reasons=tables.reasons(reader),
        queues=tables.queues(reader),
        agents=tables.agents(reader),
        top_performers=top,
        bottom_performers=bottom,
        churn=quality.churn(reader),
        data_quality=quality.data_quality(reader),
        definitions=definitions(reader),
        knob_set=reader.knob_set,
        target_set=configured_targets(settings)[0],
        staffing_gaps=planning.staffing_gaps(reader),
        forecast=planning.forecast(reader),
        outbound=planning.outbound(reader),
        compliance=planning.compliance(reader),
    )


def time_zone(reader: Reader) -> str:
    """The tenant's reporting zone; for every tenant, theirs when they share one."""
    settings = reader.settings
    if reader.tenant is not None:
        return settings.tenant(reader.tenant).time_zone
    tenants = {key[1] for key in reader.values(["tenant"])}
    zones = {settings.tenant(t).time_zone for t in tenants} or {"UTC"}
    return zones.pop() if len(zones) == 1 else "each tenant's reporting time zone"


def tile(reader: Reader, kpi: ReportKpi, channel: str | None) -> Tile:
    by, key = ([], ()) if channel is None else (["channel"], (channel,))
    value = reader.value(kpi.id, *key, by=by)
    target = reader.target(kpi.id, channel)
    return Tile(
        kpi=kpi.id,
        label=kpi.label,
        channel=channel,
        value=value,
        unit=kpi.unit,
        target=None if target is None else target.value,
        direction=kpi.direction if target is None else target.direction,
        status=None if target is None else target.status(value),
        previous=reader.value(kpi.id, *key, by=by, period=reader.period.previous()),
        definition=reader.definition(kpi.id),
    )


def trend(reader: Reader, key: str, kpis: tuple[str, ...]) -> Chart:
    """One point per day of the period; None where the day has no value."""
    first = KPI_BY_ID[kpis[0]]
    days = reader.period.dates()
    if first.across_channels:
        series = tuple(
            Series(
                SERIES_NAMES.get(kpi, "all"),
                tuple((day, reader.value(kpi, day, by=["day"])) for day in days),
            )
            for kpi in kpis
        )
    else:
        by = ["day", "channel"]
        series = tuple(
            Series(
                channel, tuple((day, reader.value(first.id, day, channel, by=by)) for day in days)
            )
            for channel in reader.channels(first.id)
        )
    title = f"{first.label} by day" + ("" if first.across_channels else ", per channel")
    return Chart(key, title, first.unit, series)


def volume_by_channel(reader: Reader) -> Chart:
    """Contacts offered per day and channel: 0 on a day that has contacts on other channels
    only, None on a day without any (closed, or not landed yet)."""
    by_day = reader.values(["day", "channel"])
    open_days = {key[1] for key in by_day}
    days = reader.period.dates()
    series = []
    for channel in CHANNELS:
        counts = [reader.value("offered.v1", day, channel, by=["day", "channel"]) for day in days]
        if any(counts):
            points = tuple(
                (day, (count or 0) if day in open_days else None)
                for day, count in zip(days, counts, strict=True)
            )
            series.append(Series(channel, points))
    title = "Contacts offered by day and channel"
    return Chart("volume_by_channel", title, "count", tuple(series))


def heatmap(reader: Reader) -> Table:
    """Contacts offered per weekday (Mon..Sun) and hour of the day, summed over the period."""
    cells = [[0] * 24 for _ in WEEKDAYS]
    for (kpi, hour, _), row in reader.values(["hour"]).items():  # hour: local to its tenant
        if kpi == "offered.v1":
            cells[hour.weekday()][hour.hour] += row["value"]
    return plain_table(
        "heatmap",
        "Contacts offered by weekday and hour of the day",
        [("Weekday", "text"), *((f"{h:02d}", "count") for h in range(24))],
        ((day, *counts) for day, counts in zip(WEEKDAYS, cells, strict=True)),
    )


def definitions(reader: Reader) -> Table:
    """Each KPI shown: its id (with its definition version), a line, its knobs and targets."""
    knobs_of = {key[0]: row["knobs"] for key, row in reader.values([]).items()}
    churn_knobs = {
        name: value
        for name, value in stored_knob_sets(reader.con).get(reader.knob_set, {}).items()
        if name.startswith("churn_")
    }
    rows = []
    for kpi in [*(k.id for k in KPIS), *MORE_DEFINITIONS]:
        knobs = churn_knobs if kpi == "churn_risk.v1" else knobs_of.get(kpi, {})
        knobs_text = ", ".join(f"{name}={_number(value)}" for name, value in knobs.items())
        rows.append((kpi, reader.definition(kpi), knobs_text, targets_text(reader, kpi)))
    return plain_table(
        "definitions",
        f"Definitions, knobs (knob set {reader.knob_set}) and targets",
        [("KPI", "text"), ("Definition", "text"), ("Knobs", "text"), ("Target", "text")],
        rows,
    )


def targets_text(reader: Reader, kpi: str) -> str:
    """The targets of a KPI in its base unit: ">= 0.8 (amber to 0.75)", per channel where
    the channels' differ; "" without a target."""
    if kpi not in GOAL_BY_KPI:
        return ""
    overall = reader.target(kpi, None)
    by_channel = {channel: reader.target(kpi, channel) for channel in CHANNELS}
    if overall is not None and all(t == overall for t in by_channel.values()):
        return _target_text(overall)
    return "; ".join(f"{c} {_target_text(t)}" for c, t in by_channel.items() if t is not None)


def _target_text(target: Target) -> str:
    if target.direction == "higher":
        return f">= {target.value:g} (amber to {target.value - target.amber:g})"
    return f"<= {target.value:g} (amber to {target.value + target.amber:g})"


def _number(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
