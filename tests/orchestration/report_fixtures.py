"""A hand-made report model and readers of what the renderer wrote (its HTML hooks and its PDF),
shared by the report rendering tests."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from html.parser import HTMLParser

import duckdb
from pypdf import PdfReader

from orchestration.reports.model import Chart, Period, Report, Series, Table, Tile
from schemas.settings import Settings
from warehouse.kpis import kpi_values

# The headings that open a page each (the print style sheet breaks before each section).
SECTIONS = (
    "Headlines",
    "Trends by day",
    "Volume",
    "Omnichannel view",
    "Reasons behind repeat contacts, transfers and abandons",
    "Queues and agents",
    "Churn risk",
    "Definitions and knobs",
)
PERIOD = Period.ending("week", date(2026, 1, 5))
DAYS = PERIOD.dates()


def _series(name: str, start: float, step: float, missing: int | None = None) -> Series:
    return Series(
        name,
        tuple((day, None if i == missing else start + step * i) for i, day in enumerate(DAYS)),
    )


def _table(key: str, title: str, columns: tuple[str, ...], units: tuple[str, ...], rows) -> Table:
    return Table(key, title, columns, units, tuple(tuple(row) for row in rows))


def sample_report(*, empty: bool = False) -> Report:
    """A week of one tenant with every section filled (``empty``: every value missing)."""
    value = (lambda v: None) if empty else (lambda v: v)
    tiles = (
        Tile(
            "service_level.v1",
            "Service level",
            "voice",
            value(0.8125),
            "fraction",
            0.8,
            "higher",
            None if empty else "green",
            value(0.75),
            "Share answered within 20 s.",
        ),
        Tile(
            "asa.v1",
            "Average speed of answer",
            "voice",
            value(31.4),
            "seconds",
            30.0,
            "lower",
            None if empty else "amber",
            value(40.0),
            "Mean wait of answered contacts.",
        ),
        Tile(
            "abandon_rate.v1",
            "Abandon rate",
            None,
            value(0.0712),
            "fraction",
            0.05,
            "lower",
            None if empty else "red",
            None,
            "Share of offered contacts abandoned.",
        ),
        Tile(
            "nps.v1",
            "NPS",
            None,
            value(23.456),
            "points",
            None,
            "higher",
            None,
            value(20.0),
            "Promoters minus detractors, in points.",
        ),
    )
    trend_keys = ("service_level", "asa", "abandon_rate", "aht", "fcr", "nps", "csat", "ces")
    units = (
        "fraction",
        "seconds",
        "fraction",
        "seconds",
        "fraction",
        "points",
        "fraction",
        "score",
    )
    trends = tuple(
        Chart(
            f"trend_{key}",
            f"{key.replace('_', ' ').upper()} by day",
            unit,
            ()
            if empty
            else (
                (_series("gross", 0.7, 0.01), _series("net", 0.6, 0.01, missing=2))
                if key == "fcr"
                else (_series("voice", 1.0 + i, 0.5), _series("chat", 2.0 + i, 0.25, missing=3))
            ),
        )
        for i, (key, unit) in enumerate(zip(trend_keys, units, strict=True))
    )
    volume = Chart(
        "volume_by_channel",
        "Contacts offered by channel",
        "count",
        ()
        if empty
        else tuple(_series(c, 100 + 10 * i, 3) for i, c in enumerate(("voice", "chat", "email"))),
    )
    hours = tuple(str(h) for h in range(24))
    heat_rows = (
        []
        if empty
        else [
            [wd, *((h * (i + 1)) % 17 for h in range(24))]
            for i, wd in enumerate(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))
        ]
    )
    return Report(
        title="Brand A: KPI report, Week 2, 5–11 Jan 2026",
        tenant="brand-a",
        display_name="Brand A",
        time_zone="Europe/Paris",
        period=PERIOD,
        previous=PERIOD.previous(),
        generated_at=datetime(2026, 1, 12, 7, 0, tzinfo=UTC),
        tiles=tiles,
        trends=trends,
        volume_by_channel=volume,
        heatmap=_table(
            "heatmap",
            "Contacts offered by weekday and hour",
            ("weekday", *hours),
            ("text",) + ("count",) * 24,
            heat_rows,
        ),
        omnichannel=_table(
            "omnichannel",
            "First-contact resolution: per channel and across channels",
            ("channel", "FCR per channel", "FCR across channels"),
            ("text", "fraction", "fraction"),
            [] if empty else [("voice", 0.81, 0.74), ("chat", 0.77, None)],
        ),
        journeys_crossed_share=value(0.183),
        reasons=(
            _table(
                "reasons_repeat",
                "Reasons of repeat contacts",
                ("reason", "contacts"),
                ("text", "count"),
                [] if empty else [("billing", 12), ("delivery", 7)],
            ),
        ),
        queues=_table(
            "queues",
            "Queues",
            ("queue", "handled", "AHT", "occupancy"),
            ("text", "count", "seconds", "fraction"),
            [] if empty else [("billing", 120, 312.5, 0.82)],
        ),
        agents=_table(
            "agents",
            "Agents",
            ("agent", "handled", "AHT", "CSAT"),
            ("text", "count", "seconds", "fraction"),
            [] if empty else [("agent-01", 40, 300.0, None)],
        ),
        top_performers=_table(
            "top_performers",
            "Top performers",
            ("agent", "CSAT"),
            ("text", "fraction"),
            [] if empty else [("agent-01", 0.9)],
        ),
        bottom_performers=_table(
            "bottom_performers",
            "Bottom performers",
            ("agent", "CSAT"),
            ("text", "fraction"),
            [] if empty else [("agent-02", 0.5)],
        ),
        churn=_table(
            "churn",
            "Churn risk",
            ("measure", "customers"),
            ("text", "count"),
            [] if empty else [("flagged", 9), ("new this period", 4)],
        ),
        data_quality=_table(
            "data_quality",
            "Data quality",
            ("measure", "value"),
            ("text", "count"),
            [] if empty else [("dead letters", 3)],
        ),
        definitions=_table(
            "definitions",
            "Definitions",
            ("kpi", "definition", "knobs"),
            ("text", "text", "text"),
            [("service_level.v1", "Share answered within the threshold.", "20 s")],
        ),
        knob_set="k-1234abcd",
        target_set="t-5678ef90",
    )


@dataclass
class ReportHooks(HTMLParser):
    """What the HTML's machine-readable hooks say: tiles by (kpi, channel), table cells by table
    key, the charts' SVGs by chart key, and every text node."""

    tiles: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    cells: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    svgs: dict[str, int] = field(default_factory=dict)
    texts: list[str] = field(default_factory=list)
    _table: list[str] = field(default_factory=list)
    _figure: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {name: value or "" for name, value in attrs}
        if "data-kpi" in a and "data-channel" in a:
            self.tiles[(a["data-kpi"], a["data-channel"])] = a
        if tag == "table":
            self._table.append(a.get("data-table", ""))
        if tag == "figure":
            self._figure.append(a.get("data-chart", ""))
        if tag == "svg" and self._figure:
            self.svgs[self._figure[-1]] = self.svgs.get(self._figure[-1], 0) + 1
        if tag == "td" and self._table:
            self.cells.setdefault(self._table[-1], []).append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table.pop()
        if tag == "figure":
            self._figure.pop()

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.texts.append(data.strip())


def read_hooks(html: str) -> ReportHooks:
    hooks = ReportHooks()
    hooks.feed(html)
    return hooks


def number(text: str) -> float | None:
    """A ``data-value`` as a number (``""``: none)."""
    return None if text == "" else float(text)


def marts_by(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    period: Period,
    tenant: str | None,
    by: list[str],
) -> dict[tuple[str, ...], float | None]:
    """The KPI values of the marts (``warehouse.kpis.kpi_values``, what ``omnicx kpis``
    reads) over the period, of one tenant or all, by (kpi id, *the ``by`` values as text)."""
    dimensions = ["tenant", *by] if tenant else by
    rows = kpi_values(con, period.first_day, period.last_day, dimensions, settings)
    return {
        (row["kpi"], *(str(row[d]) for d in by)): row["value"]
        for row in rows
        if tenant is None or row["tenant"] == tenant
    }


def assert_html_equals_marts(
    html: str,
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    period: Period,
    tenant: str | None,
) -> None:
    """Every headline tile, and the service-level trend and the volume by day and channel, hold
    exactly the marts' values."""
    hooks = read_hooks(html)
    overall = marts_by(con, settings, period, tenant, [])
    per_channel = marts_by(con, settings, period, tenant, ["channel"])
    assert len(hooks.tiles) >= 10
    for (kpi, channel), tile in hooks.tiles.items():
        expected = per_channel.get((kpi, channel)) if channel else overall.get((kpi,))
        assert number(tile["data-value"]) == expected, (kpi, channel)
    by_day = marts_by(con, settings, period, tenant, ["day", "channel"])
    for chart, kpi in (
        ("trend_service_level", "service_level.v1"),
        ("volume_by_channel", "offered.v1"),
    ):
        cells = [c for c in hooks.cells[chart] if "data-series" in c]
        assert cells, chart
        for cell in cells:
            expected = by_day.get((kpi, cell["data-day"], cell["data-series"]))
            if kpi == "offered.v1":  # a count: no contact of the channel that day is 0
                expected = expected or 0
            assert number(cell["data-value"]) == expected, (chart, cell)


def flat(text: str) -> str:
    """Text without whitespace: a PDF's extracted text breaks lines where the page did and
    may split a word at a kerned pair ("T arget")."""
    return "".join(text.split())


def pdf_pages(pdf: bytes) -> list[str]:
    """The text of each page of a PDF."""
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]
