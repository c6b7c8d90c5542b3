"""Assemble a report (``orchestration.reports.model.Report``) from the warehouse.

Every KPI value comes from ``warehouse.kpis.kpi_values``, the reader of ``omnicx kpis``: sums
of the marts' counts over the period and the grouping asked for, then divided, never an
average of daily averages. The sections the KPI values do not cover (reasons, journeys that
crossed channels, churn, data quality) are counts of ``orchestration.reports.queries``. One knob
set is read, the current settings' (as ``omnicx kpis`` does by default); the statuses are
judged by the targets in force (``schemas.targets``). docs/reports.md, "What each section
shows", defines each section.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb

from orchestration.reports import queries
from orchestration.reports.checks import check_outcomes
from orchestration.reports.kpis import KPIS, MORE_DEFINITIONS, ReportKpi, definition
from orchestration.reports.model import Chart, Period, Report, Series, Table, Tile
from orchestration.reports.queries import Scope
from schemas.knob_sets import configured_targets
from schemas.settings import Settings
from schemas.targets import CHANNELS, GOALS, KpiTargets, Target, resolve
from warehouse.kpi_checks import journey_mismatches
from warehouse.kpis import (
    DEFLECTION_CAUSES,
    KnobSetMissing,
    current_knob_set,
    format_days,
    kpi_values,
    stored_knob_sets,
)

# Top and bottom performers (docs/reports.md): agents who handled at least MIN_HANDLED
# contacts and got at least MIN_CSAT_ANSWERS CSAT answers in the period, ranked by CSAT.
PERFORMERS = 5
MIN_HANDLED = 20
MIN_CSAT_ANSWERS = 5
# Rows of a reasons table; the rest are added up in one "other reasons" row.
TOP_REASONS = 10
NO_REASON = "(no reason given)"
OTHER_REASONS = "(other reasons)"

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
TRENDS = (  # key, KPI ids (one series each, or one per channel when not across channels)
    ("trend_service_level", ("service_level.v1",)),
    ("trend_asa", ("asa.v1",)),
    ("trend_abandon_rate", ("abandon_rate.v1",)),
    ("trend_aht", ("aht.v1",)),
    ("trend_fcr", ("fcr.v1", "fcr_net.v1")),
    ("trend_nps", ("nps.v1",)),
    ("trend_csat", ("csat.v1",)),
    ("trend_ces", ("ces.v1",)),
)
SERIES_NAMES = {"fcr.v1": "gross", "fcr_net.v1": "net"}
CHURN_SIGNALS = {
    "nps_detractor": "NPS detractor (0-6)",
    "csat_1_2": "CSAT 1-2",
    "ces_1_3": "CES 1-3",
    "unresolved_journey": "Unresolved journey of 3+ contacts",
    "abandons": "2+ abandoned contacts",
    "escalation_unresolved_48h": "Escalation unresolved after 48 h",
    "cancellation_intent": "Cancellation intent",
    "opted_out": "Opted out",
}

Key = tuple[Any, ...]
Values = dict[Key, dict[str, Any]]  # (kpi id, *group values) -> kpi_values row


def build_report(
    settings: Settings,
    con: duckdb.DuckDBPyConnection | None,
    period: Period,
    tenant: str | None,
    generated_at: datetime,
) -> Report:
    """The report of ``period`` for ``tenant`` (None: every tenant together), read from ``con``
    (None: the settings' warehouse, read-only). Raises ``KnobSetMissing`` when the marts hold
    the period's days only under other knobs than the settings' (``omnicx refresh`` them)."""
    if con is None:
        from warehouse.build import connect_read_only

        with connect_read_only(settings) as own:
            return build_report(settings, own, period, tenant, generated_at)
    return _Builder(settings, con, period, tenant, generated_at).report()


@dataclass
class _Builder:
    settings: Settings
    con: duckdb.DuckDBPyConnection
    period: Period
    tenant: str | None
    generated_at: datetime
    knob_set: str = ""
    cache: dict[tuple[Period, tuple[str, ...]], Values] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.knob_set = current_knob_set(self.settings)
        self.scope = Scope(self.period.first_day, self.period.last_day, self.tenant, self.knob_set)
        self.own_targets: dict[str, KpiTargets] = (
            self.settings.tenant(self.tenant).targets if self.tenant else {}
        )

    def values(self, by: Iterable[str], period: Period | None = None) -> Values:
        """KPI values of the period (default: the report's) per group of ``by``, of this
        report's tenant only; the previous period's are {} when the marts hold them only under
        other knobs (nothing comparable)."""
        by = tuple(by)
        period = period or self.period
        if (period, by) not in self.cache:
            dimensions = list(by)
            if self.tenant is not None and "tenant" not in by:
                dimensions.insert(0, "tenant")
            try:
                rows = kpi_values(
                    self.con,
                    period.first_day,
                    period.last_day,
                    dimensions,
                    self.settings,
                    self.knob_set,
                )
            except KnobSetMissing:
                if period == self.period:
                    raise
                rows = []
            self.cache[period, by] = {
                (row["kpi"], *(row[d] for d in by)): row
                for row in rows
                if self.tenant is None or row["tenant"] == self.tenant
            }
        return self.cache[period, by]

    def value(self, kpi: str, *key: Any, by: Iterable[str] = (), period: Period | None = None):
        row = self.values(by, period).get((kpi, *key))
        return None if row is None else row["value"]

    def target(self, kpi: str, channel: str | None) -> Target | None:
        return resolve(kpi, channel, self.settings.targets, self.own_targets)

    # -- the report ---------------------------------------------------------------------------

    def report(self) -> Report:
        display_name = (
            (self.settings.tenant(self.tenant).display_name or self.tenant)
            if self.tenant
            else "All tenants"
        )
        return Report(
            title=f"{display_name}: KPI report, {self.period.label}",
            tenant=self.tenant,
            display_name=display_name,
            time_zone=self.time_zone(),
            period=self.period,
            previous=self.period.previous(),
            generated_at=self.generated_at,
            tiles=self.tiles(),
            trends=tuple(self.trend(key, kpis) for key, kpis in TRENDS),
            volume_by_channel=self.volume_by_channel(),
            heatmap=self.heatmap(),
            omnichannel=self.omnichannel(),
            journeys_crossed_share=self.crossed_share(),
            reasons=(
                self.repeats_by_reason(),
                self.transfers_by_reason(),
                self.abandons_by_reason(),
                self.abandons_by_wait(),
                self.deflections(),
            ),
            queues=self.queues(),
            agents=self.agents(),
            top_performers=self.performers(top=True),
            bottom_performers=self.performers(top=False),
            churn=self.churn(),
            data_quality=self.data_quality(),
            definitions=self.definitions(),
            knob_set=self.knob_set,
            target_set=configured_targets(self.settings)[0],
        )

    def time_zone(self) -> str:
        if self.tenant is not None:
            return self.settings.tenant(self.tenant).time_zone
        tenants = {key[1] for key in self.values(["tenant"])}
        zones = {self.settings.tenant(t).time_zone for t in tenants} or {"UTC"}
        return zones.pop() if len(zones) == 1 else "each tenant's reporting time zone"

    def channels(self, kpi: str) -> list[str]:
        """The channels with a value of ``kpi`` in the period or the previous one."""
        previous = self.period.previous()
        return [
            channel
            for channel in CHANNELS
            if self.value(kpi, channel, by=["channel"]) is not None
            or self.value(kpi, channel, by=["channel"], period=previous) is not None
        ]

    def tiles(self) -> tuple[Tile, ...]:
        tiles = []
        for kpi in KPIS:
            channels: list[str | None] = [None] if kpi.across_channels else self.channels(kpi.id)
            tiles += [self.tile(kpi, channel) for channel in channels]
        return tuple(tiles)

    def tile(self, kpi: ReportKpi, channel: str | None) -> Tile:
        by = [] if channel is None else ["channel"]
        key = () if channel is None else (channel,)
        value = self.value(kpi.id, *key, by=by)
        target = self.target(kpi.id, channel)
        return Tile(
            kpi=kpi.id,
            label=kpi.label,
            channel=channel,
            value=value,
            unit=kpi.unit,
            target=None if target is None else target.value,
            direction=kpi.direction if target is None else target.direction,
            status=None if target is None else target.status(value),
            previous=self.value(kpi.id, *key, by=by, period=self.period.previous()),
            definition=self.definition(kpi.id),
        )

    def definition(self, kpi: str) -> str:
        return definition(kpi, self.settings.kpis.abandon_treatment)

    def trend(self, key: str, kpis: tuple[str, ...]) -> Chart:
        first = next(k for k in KPIS if k.id == kpis[0])
        days = self.period.dates()
        if first.across_channels:
            series = tuple(
                Series(
                    SERIES_NAMES.get(kpi, "all"),
                    tuple((day, self.value(kpi, day, by=["day"])) for day in days),
                )
                for kpi in kpis
            )
        else:
            series = tuple(
                Series(
                    channel,
                    tuple(
                        (day, self.value(first.id, day, channel, by=["day", "channel"]))
                        for day in days
                    ),
                )
                for channel in self.channels(first.id)
            )
        title = f"{first.label} by day" + ("" if first.across_channels else ", per channel")
        return Chart(key, title, first.unit, series)

    def volume_by_channel(self) -> Chart:
        """Contacts offered per day and channel: 0 on a day that has contacts on other channels,
        None on a day without any (closed, or not landed yet)."""
        by_day = self.values(["day", "channel"])
        open_days = {key[1] for key in by_day}
        series = []
        for channel in CHANNELS:
            counts = [by_day.get(("offered.v1", day, channel)) for day in self.period.dates()]
            if not any(row and row["value"] for row in counts):
                continue
            points = tuple(
                (day, (row["value"] if row else 0) if day in open_days else None)
                for day, row in zip(self.period.dates(), counts, strict=True)
            )
            series.append(Series(channel, points))
        return Chart(
            "volume_by_channel", "Contacts offered by day and channel", "count", tuple(series)
        )

    def heatmap(self) -> Table:
        """Contacts offered per weekday (Mon..Sun) and hour of the day, summed over the period."""
        cells = [[0] * 24 for _ in WEEKDAYS]
        for (kpi, hour), row in self.values(["hour"]).items():
            if kpi == "offered.v1":
                cells[hour.weekday()][hour.hour] += row["value"]
        return Table(
            "heatmap",
            "Contacts offered by weekday and hour of the day",
            ("Weekday", *(f"{h:02d}" for h in range(24))),
            ("text", *("count",) * 24),
            tuple((day, *counts) for day, counts in zip(WEEKDAYS, cells, strict=True)),
        )

    # -- omnichannel ----------------------------------------------------------------------------

    def crossed(self) -> dict[str, dict[str, int]]:
        return {
            row["channel"]: row
            for row in queries.rows(self.con, queries.CROSSED_BY_CHANNEL, self.scope)
        }

    def crossed_share(self) -> float | None:
        crossed = self.crossed().values()
        return _ratio(sum(r["crossed"] for r in crossed), sum(r["journeys"] for r in crossed))

    def omnichannel(self) -> Table:
        """Per channel, then for all channels: the journeys a single-channel tool sees and its
        FCR, beside the journeys across channels (by their first contact's channel) and their
        FCR; the difference is what the single-channel view overstates."""
        crossed = self.crossed()
        rows = []
        for channel in [*CHANNELS, None]:
            key, by = ((), []) if channel is None else ((channel,), ["channel"])
            across = self.values(by).get(("fcr.v1", *key)) or {"value": None, "denominator": 0}
            alone = self.values(by).get(("fcr_channel.v1", *key)) or {
                "value": None,
                "denominator": 0,
            }
            if not (across["denominator"] or alone["denominator"]):
                continue
            seen = [
                r for r in ([*crossed.values()] if channel is None else [crossed.get(channel)]) if r
            ]
            overstated = (
                None
                if alone["value"] is None or across["value"] is None
                else alone["value"] - across["value"]
            )
            rows.append(
                (
                    channel or "all channels",
                    alone["denominator"],
                    alone["value"],
                    across["denominator"],
                    across["value"],
                    overstated,
                    _ratio(sum(r["crossed"] for r in seen), sum(r["journeys"] for r in seen)),
                )
            )
        return Table(
            "omnichannel",
            "First-contact resolution: per channel (what a single-channel tool reports) and "
            "across channels",
            (
                "Channel",
                "Journeys per channel",
                "FCR per channel",
                "Journeys across channels",
                "FCR across channels",
                "Overstated per channel by",
                "Journeys that crossed channels",
            ),
            ("text", "count", "fraction", "count", "fraction", "fraction", "fraction"),
            tuple(rows),
        )

    # -- reasons --------------------------------------------------------------------------------

    def reasons(self, sql: str, counts: tuple[str, ...]) -> list[tuple]:
        """(reason, *counts) rows, the first TOP_REASONS as they come, the rest added up."""
        found = queries.rows(self.con, sql, self.scope)
        rows = [(r["reason"] or NO_REASON, *(r[c] for c in counts)) for r in found]
        if len(rows) > TOP_REASONS:
            rest = rows[TOP_REASONS - 1 :]
            rows = [
                *rows[: TOP_REASONS - 1],
                (OTHER_REASONS, *(sum(r[i] for r in rest) for i in range(1, len(counts) + 1))),
            ]
        return rows

    def repeats_by_reason(self) -> Table:
        rows = self.reasons(
            queries.REPEATS_BY_REASON, ("journeys", "repeated_journeys", "repeat_contacts")
        )
        return Table(
            "reasons_repeat_contacts",
            "Repeat contacts, by the reason of the journey's first contact",
            ("Reason", "Journeys", "Journeys with repeats", "Repeat contacts", "Share repeated"),
            ("text", "count", "count", "count", "fraction"),
            tuple((*row, _ratio(row[2], row[1])) for row in rows),
        )

    def transfers_by_reason(self) -> Table:
        rows = self.reasons(queries.TRANSFERS_BY_REASON, ("handled", "transferred", "warm", "cold"))
        return Table(
            "reasons_transfers",
            "Transfers, by contact reason",
            ("Reason", "Handled", "Transferred", "Warm", "Cold", "Transfer rate"),
            ("text", "count", "count", "count", "count", "fraction"),
            tuple((*row, _ratio(row[2], row[1])) for row in rows),
        )

    def abandons_by_reason(self) -> Table:
        rows = self.reasons(queries.ABANDONS_BY_REASON, ("offered", "abandoned"))
        return Table(
            "reasons_abandons",
            "Abandons, by contact reason",
            ("Reason", "Offered", "Abandoned", "Abandon rate"),
            ("text", "count", "count", "fraction"),
            tuple((*row, _ratio(row[2], row[1])) for row in rows),
        )

    def abandons_by_wait(self) -> Table:
        found = queries.rows(self.con, queries.ABANDONS_BY_WAIT, self.scope)
        columns = ("abandoned", "within_t", "t_to_2t", "t2_to_4t", "over_4t")
        return Table(
            "reasons_abandon_waits",
            "Abandons, by how long the customer waited against the channel's threshold T",
            ("Channel", "Threshold T", "Abandoned", "Within T", "T to 2T", "2T to 4T", "Over 4T"),
            ("text", "seconds", "count", "count", "count", "count", "count"),
            tuple((r["channel"], r["threshold_seconds"], *(r[c] for c in columns)) for r in found),
        )

    def deflections(self) -> Table:
        rows = []
        for cause in DEFLECTION_CAUSES:
            row = self.values([]).get((f"ivr_containment.v1.{cause}",))
            if row and row["numerator"]:
                rows.append((cause.replace("_", " "), row["numerator"], row["value"]))
        return Table(
            "reasons_deflections",
            "Inbound calls deflected before an agent, by cause",
            ("Cause", "Deflected", "Share of inbound calls"),
            ("text", "count", "fraction"),
            tuple(sorted(rows, key=lambda r: -r[1])),
        )

    # -- queues and agents ----------------------------------------------------------------------

    def by_tenant(self, *by: str) -> list[str]:
        """``by``, after the tenant when the report covers every tenant (the same queue or
        agent name in two tenants is two queues or agents)."""
        return list(by) if self.tenant else ["tenant", *by]

    def queues(self) -> Table:
        by = self.by_tenant("queue", "channel")
        values = self.values(by)
        keys = sorted(
            (
                key[1:]
                for key, row in values.items()
                if key[0] == "offered.v1" and _handled_or_offered(values, key)
            ),
            key=lambda k: (-(values[("offered.v1", *k)]["value"] or 0), *map(str, k)),
        )
        kpis = (
            "service_level.v1",
            "asa.v1",
            "abandon_rate.v1",
            "aht.v1",
            "transfer_rate.v1",
            "csat.v1",
        )
        rows = tuple(
            (
                *(k if k[-2] is not None else (*k[:-2], "(no queue)", k[-1])),
                values[("offered.v1", *k)]["value"],
                _denominator(values, "aht.v1", k),
                *(_value(values, kpi, k) for kpi in kpis),
            )
            for k in keys
        )
        columns = (
            "Queue",
            "Channel",
            "Offered",
            "Handled",
            "Service level",
            "ASA",
            "Abandon rate",
            "AHT",
            "Transfer rate",
            "CSAT",
        )
        units = (
            "text",
            "text",
            "count",
            "count",
            "fraction",
            "seconds",
            "fraction",
            "seconds",
            "fraction",
            "fraction",
        )
        return Table(
            "queues", "Queues", self.tenant_columns(columns), self.tenant_units(units), rows
        )

    def tenant_columns(self, columns: tuple[str, ...]) -> tuple[str, ...]:
        return columns if self.tenant else ("Tenant", *columns)

    def tenant_units(self, units: tuple[str, ...]) -> tuple[str, ...]:
        return units if self.tenant else ("text", *units)

    def agent_rows(self) -> list[dict[str, Any]]:
        by = self.by_tenant("agent")
        values = self.values(by)
        keys = {key[1:] for key in values if key[-1] is not None}
        agents = []
        for k in keys:
            handled = _denominator(values, "aht.v1", k) or 0
            occupancy = values.get(("occupancy.v1", *k))
            if not handled and not (occupancy and occupancy["denominator"]):
                continue
            agents.append(
                {
                    "key": k,
                    "handled": handled,
                    "aht": _value(values, "aht.v1", k),
                    "occupancy": None if occupancy is None else occupancy["value"],
                    "transfer_rate": _value(values, "transfer_rate.v1", k),
                    "csat": _value(values, "csat.v1", k),
                    "csat_answers": _denominator(values, "csat.v1", k) or 0,
                    "fcr": _value(values, "fcr.v1", k),
                }
            )
        return sorted(agents, key=lambda a: (-a["handled"], *map(str, a["key"])))

    def agents(self) -> Table:
        fields = ("handled", "aht", "occupancy", "transfer_rate", "csat", "csat_answers", "fcr")
        return Table(
            "agents",
            "Agents",
            self.tenant_columns(
                (
                    "Agent",
                    "Handled",
                    "AHT",
                    "Occupancy",
                    "Transfer rate",
                    "CSAT",
                    "CSAT answers",
                    "FCR",
                )
            ),
            self.tenant_units(
                (
                    "text",
                    "count",
                    "seconds",
                    "fraction",
                    "fraction",
                    "fraction",
                    "count",
                    "fraction",
                )
            ),
            tuple((*a["key"], *(a[f] for f in fields)) for a in self.agent_rows()),
        )

    def performers(self, top: bool) -> Table:
        """Agents with enough handled contacts and CSAT answers to be judged fairly, ranked by
        CSAT (then FCR, then handled); the bottom never repeats an agent of the top."""
        eligible = [
            a
            for a in self.agent_rows()
            if a["handled"] >= MIN_HANDLED and a["csat_answers"] >= MIN_CSAT_ANSWERS
        ]
        ranked = sorted(
            eligible,
            key=lambda a: (
                -a["csat"],
                -(a["fcr"] if a["fcr"] is not None else -1),
                -a["handled"],
                *map(str, a["key"]),
            ),
        )
        best = min(PERFORMERS, math.ceil(len(ranked) / 2))
        chosen = ranked[:best] if top else list(reversed(ranked[best:]))[:PERFORMERS]
        fields = ("csat", "csat_answers", "fcr", "handled", "aht", "transfer_rate")
        which = "Top" if top else "Bottom"
        return Table(
            "top_performers" if top else "bottom_performers",
            f"{which} performers by CSAT (agents with at least {MIN_HANDLED} handled contacts "
            f"and {MIN_CSAT_ANSWERS} CSAT answers)",
            self.tenant_columns(
                ("Agent", "CSAT", "CSAT answers", "FCR", "Handled", "AHT", "Transfer rate")
            ),
            self.tenant_units(
                ("text", "fraction", "count", "fraction", "count", "seconds", "fraction")
            ),
            tuple((*a["key"], *(a[f] for f in fields)) for a in chosen),
        )

    # -- churn and data quality ---------------------------------------------------------------

    def churn(self) -> Table:
        """As of the last day of the period the marts hold (the mart keeps only customers with
        a score, so a day with contacts and no score counts too)."""
        (scored,) = queries.rows(self.con, queries.CHURN_AS_OF, self.scope)
        held = [scored["as_of_day"], *self.days_with_contacts()]
        as_of_day = max((day for day in held if day is not None), default=None)
        before = self.period.first_day - timedelta(days=1)
        rows: list[tuple[str, int]] = []
        if as_of_day is not None:
            (counts,) = queries.rows(
                self.con, queries.CHURN_COUNTS, self.scope, as_of=as_of_day, before=before
            )
            rows = [
                (f"Customers flagged at risk on {as_of_day}", counts["flagged"]),
                ("Newly flagged during the period", counts["newly_flagged"]),
                (f"Customers flagged at risk on {before}", counts["flagged_before"]),
            ]
            signals = queries.rows(self.con, queries.CHURN_SIGNALS, self.scope, as_of=as_of_day)
            rows += [
                (f"Reason: {CHURN_SIGNALS.get(r['signal'], r['signal'])}", r["customers"])
                for r in signals
            ]
        return Table(
            "churn",
            "Churn risk: customers flagged, and what flagged them",
            ("Measure", "Customers"),
            ("text", "count"),
            tuple(rows),
        )

    def data_quality(self) -> Table:
        rows: list[tuple] = []
        (dead,) = queries.rows(self.con, queries.DEAD_LETTERS, self.scope)
        (events,) = queries.rows(self.con, queries.EVENTS, self.scope)
        dead_letters = dead["dead_letters"]
        limit = self.settings.checks.dead_letter_max_share
        rows.append(
            (
                "Dead letters (messages rejected)",
                dead_letters,
                _ratio(dead_letters, dead_letters + events["events"]),
                None,
                f"share of messages; the refresh fails above {limit:g}",
            )
        )
        outcomes = check_outcomes(
            self.settings.dagster_home, self.period.first_day, self.period.last_day
        )
        if outcomes is None:
            rows.append(("Failed data checks", None, None, None, "no Dagster instance"))
        else:
            failed = [o for o in outcomes if not o.passed]
            rows.append(
                (
                    "Failed data checks",
                    len(failed),
                    _ratio(len(failed), len(outcomes)),
                    None,
                    "; ".join(
                        f"{o.asset}.{o.check} ({o.first}..{o.last}, {o.severity})" for o in failed
                    )
                    or f"{len(outcomes)} checks passed",
                )
            )
        _, mismatches = journey_mismatches(self.con, self.period.first_day, self.period.last_day)
        if self.tenant is not None and mismatches:
            ids = [m["journey_id"] for m in mismatches]
            tenants = queries.rows(self.con, queries.JOURNEY_TENANTS, self.scope, ids=ids)
            ours = {r["journey_id"] for r in tenants if r["tenant"] == self.tenant}
            mismatches = [m for m in mismatches if m["journey_id"] in ours]
        rows.append(
            (
                "Journeys the stream and SQL disagree on",
                len(mismatches),
                None,
                None,
                "check stream_journeys_agree",
            )
        )
        (statuses,) = queries.rows(self.con, queries.CONTACT_STATUSES, self.scope)
        for name, column, why in (
            (
                "Incomplete contacts",
                "incomplete",
                "closed by the idle timeout, end or wrap-up lost",
            ),
            ("Contacts still open", "still_open", "not ended or wrapped up yet"),
        ):
            rows.append(
                (name, statuses[column], _ratio(statuses[column], statuses["contacts"]), None, why)
            )
        (surveys,) = queries.rows(self.con, queries.SURVEYS_WITHOUT_CONTACT, self.scope)
        rows.append(
            (
                "Surveys without a known contact",
                surveys["surveys_without_contact"],
                _ratio(surveys["surveys_without_contact"], surveys["surveys"]),
                None,
                "attributed to the day they were completed",
            )
        )
        with_contacts = set(self.days_with_contacts())
        empty = [day for day in self.period.dates() if day not in with_contacts]
        rows.append(("Days without contacts", len(empty), None, None, format_days(empty)))
        (newest,) = queries.rows(self.con, queries.NEWEST_EVENT, self.scope)
        rows.append(
            self.freshness(
                "Newest event", newest["newest"], "the newest event time analysts can query"
            )
        )
        rows.append(self.last_refresh())
        return Table(
            "data_quality",
            "Data quality",
            ("Measure", "Count", "Share", "Age", "Detail"),
            ("text", "count", "fraction", "seconds", "text"),
            tuple(rows),
        )

    def days_with_contacts(self) -> list[date]:
        return [r["day"] for r in queries.rows(self.con, queries.DAYS_WITH_CONTACTS, self.scope)]

    def freshness(self, name: str, at: datetime | None, detail: str) -> tuple:
        if at is None:
            return (name, None, None, None, "none")
        at = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
        age = (self.generated_at - at).total_seconds()
        return (name, None, None, age, f"{at:%Y-%m-%d %H:%M:%S} UTC; {detail}")

    def last_refresh(self) -> tuple:
        from orchestration.status import last_refresh

        run = last_refresh(self.settings.dagster_home)
        if run is None:
            return ("Last refresh", None, None, None, "no refresh run recorded")
        return self.freshness(
            "Last refresh", run.ended or run.started, f"run {run.run_id[:8]}: {run.status}"
        )

    # -- definitions ------------------------------------------------------------------------

    def definitions(self) -> Table:
        knobs_of = {key[0]: row["knobs"] for key, row in self.values([]).items()}
        churn_knobs = {
            name: value
            for name, value in stored_knob_sets(self.con).get(self.knob_set, {}).items()
            if name.startswith("churn_")
        }
        rows = []
        for kpi in [*(k.id for k in KPIS), *MORE_DEFINITIONS]:
            knobs = churn_knobs if kpi == "churn_risk.v1" else knobs_of.get(kpi, {})
            rows.append(
                (
                    kpi,
                    self.definition(kpi),
                    ", ".join(
                        f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}"
                        for name, value in knobs.items()
                    ),
                    self.targets_text(kpi),
                )
            )
        return Table(
            "definitions",
            f"Definitions, knobs (knob set {self.knob_set}) and targets",
            ("KPI", "Definition", "Knobs", "Target"),
            ("text", "text", "text", "text"),
            tuple(rows),
        )

    def targets_text(self, kpi: str) -> str:
        """The targets of a KPI, in its base unit: "≥ 0.8 (amber down to 0.75)", per channel
        where channels differ."""
        if kpi not in {goal.kpi for goal in GOALS.values()}:
            return ""
        overall = self.target(kpi, None)
        by_channel = {c: self.target(kpi, c) for c in CHANNELS}
        if overall is not None and all(t == overall for t in by_channel.values()):
            return _target_text(overall)
        return "; ".join(f"{c} {_target_text(t)}" for c, t in by_channel.items() if t is not None)


def _target_text(target: Target) -> str:
    sign, edge = (
        (">=", target.value - target.amber)
        if target.direction == "higher"
        else ("<=", target.value + target.amber)
    )
    return f"{sign} {target.value:g} (amber to {edge:g})"


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def _value(values: Values, kpi: str, key: Key) -> Any:
    row = values.get((kpi, *key))
    return None if row is None else row["value"]


def _denominator(values: Values, kpi: str, key: Key) -> Any:
    row = values.get((kpi, *key))
    return None if row is None else row["denominator"]


def _handled_or_offered(values: Values, key: Key) -> bool:
    return bool(values[key]["value"] or _denominator(values, "aht.v1", key[1:]))
