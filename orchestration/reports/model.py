"""The report model: what an executive KPI report holds, in exact base units.

Values are fractions for rates, seconds for times, points for NPS, the survey scale for CSAT and
CES, and plain counts; formatting them for people is the renderer's job. Every chart carries its
series, which doubles as the chart's table fallback.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta

PERIOD_KINDS = ("day", "week", "month", "range")
UNITS = ("fraction", "seconds", "points", "score", "count")


@dataclass(frozen=True)
class Period:
    """Inclusive local days of the tenant's reporting zone."""

    kind: str  # "day" | "week" | "month" | "range"
    first_day: date
    last_day: date

    def __post_init__(self) -> None:
        if self.kind not in PERIOD_KINDS:
            raise ValueError(f"period kind must be one of {', '.join(PERIOD_KINDS)}: {self.kind!r}")
        if self.last_day < self.first_day:
            raise ValueError(f"period ends ({self.last_day}) before it starts ({self.first_day})")

    @classmethod
    def ending(cls, kind: str, day: date) -> Period:
        """The period of that kind holding `day` (a week runs Monday..Sunday)."""
        if kind == "day":
            return cls("day", day, day)
        if kind == "week":
            monday = day - timedelta(days=day.weekday())
            return cls("week", monday, monday + timedelta(days=6))
        if kind == "month":
            last = calendar.monthrange(day.year, day.month)[1]
            return cls("month", day.replace(day=1), day.replace(day=last))
        raise ValueError(f"no period of kind {kind!r} holds a single day; use day, week or month")

    @classmethod
    def between(cls, first_day: date, last_day: date) -> Period:
        """Any range of days, both ends included."""
        return cls("range", first_day, last_day)

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def dates(self) -> tuple[date, ...]:
        return tuple(self.first_day + timedelta(days=i) for i in range(self.days))

    def previous(self) -> Period:
        """The period of the same length just before (a month: the previous calendar month)."""
        if self.kind == "month":
            return Period.ending("month", self.first_day - timedelta(days=1))
        length = timedelta(days=self.days)
        return Period(self.kind, self.first_day - length, self.last_day - length)

    @property
    def label(self) -> str:
        """For people: "Mon 30 Nov 2026", "Week 48, 23–29 Nov 2026", "November 2026"."""
        if self.kind == "day":
            return f"{self.first_day:%a} {_day_month_year(self.first_day)}"
        if self.kind == "month":
            return f"{self.first_day:%B %Y}"
        span = _span(self.first_day, self.last_day)
        if self.kind == "week":
            return f"Week {self.first_day.isocalendar().week}, {span}"
        return span


def _day_month_year(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def _span(first: date, last: date) -> str:
    """ "23–29 Nov 2026", "30 Nov – 6 Dec 2026", "28 Dec 2026 – 3 Jan 2027"."""
    if first == last:
        return _day_month_year(first)
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}–{_day_month_year(last)}"
    if first.year == last.year:
        return f"{first.day} {first:%b} – {_day_month_year(last)}"
    return f"{_day_month_year(first)} – {_day_month_year(last)}"


@dataclass(frozen=True)
class Tile:
    """One headline KPI."""

    kpi: str  # definition id, e.g. "service_level.v1"
    label: str  # "Service level"
    channel: str | None  # None: all channels (only where comparable across channels)
    value: float | None  # exact, in the KPI's base unit
    unit: str  # "fraction" | "seconds" | "points" | "score" | "count"
    target: float | None
    direction: str  # "higher" | "lower" (is better)
    status: str | None  # "green" | "amber" | "red" | None (no target or no value)
    previous: float | None  # same KPI, previous period
    definition: str  # one line


@dataclass(frozen=True)
class Series:
    """One line of a trend chart."""

    name: str  # "voice", "all", "gross", "net" ...
    points: tuple[tuple[date, float | None], ...]


@dataclass(frozen=True)
class Chart:
    """Every chart has its table fallback: its series."""

    key: str  # stable id: "trend_service_level", "volume_by_channel", ...
    title: str
    unit: str  # as Tile.unit
    series: tuple[Series, ...]


@dataclass(frozen=True)
class Table:
    key: str
    title: str
    columns: tuple[str, ...]
    units: tuple[str, ...]  # per column: "text" | "fraction" | "seconds" | "count" | ...
    rows: tuple[tuple[object, ...], ...]


@dataclass(frozen=True)
class Report:
    title: str
    tenant: str | None  # None: overall (all tenants)
    display_name: str
    time_zone: str
    period: Period
    previous: Period
    generated_at: datetime  # pinned in tests
    tiles: tuple[Tile, ...]
    trends: tuple[Chart, ...]  # by day: SL, ASA, abandon rate, AHT, FCR, NPS, CSAT, CES
    volume_by_channel: Chart  # by day per channel
    heatmap: Table  # weekday (Mon..Sun) x hour 0..23 contacts offered
    omnichannel: Table  # cross-channel FCR beside per-channel FCR
    journeys_crossed_share: float | None
    reasons: tuple[Table, ...]  # repeat contacts, transfers, abandons
    queues: Table
    agents: Table
    top_performers: Table
    bottom_performers: Table
    churn: Table  # flagged, new this period, top reasons (no personal data)
    data_quality: Table  # dead letters, failed checks, incomplete contacts, freshness
    definitions: Table  # KPI id, one-line definition, knobs used
    knob_set: str  # the knob set that produced the numbers (kpi_knob_sets)
    target_set: str = ""  # the targets the statuses were judged by (kpi_target_sets)
    # What next (orchestration.reports.planning): None in a report built without them.
    staffing_gaps: Table | None = None  # under-staffed hours, largest gap first
    forecast: Table | None = None  # offered contacts per channel, the weeks after the period
    outbound: Table | None = None  # campaigns and dialer modes, apart from the inbound KPIs
    compliance: Table | None = None  # opt-out violations per campaign and scope
