"""A report (``orchestration.reports.model.Report``) as one self-contained HTML page, and the PDF
WeasyPrint makes of that same page.

The HTML holds everything it shows: the style sheet inline, the charts as inline SVG, no link to
anything outside it, so it opens offline and survives being forwarded. Every number is written
twice: for people (``units``) and exactly, in ``data-value`` attributes (base units), which is
what programs and the tests read.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from importlib import resources

from jinja2 import Environment, StrictUndefined, select_autoescape

from orchestration.reports.charts import bar_chart, heatmap_chart, line_chart
from orchestration.reports.model import Chart, Report, Series, Tile
from orchestration.reports.units import MISSING, format_change, format_value

TEMPLATES = resources.files("orchestration.reports") / "templates"

# Status for people: a symbol and a word, so that it reads without colour.
STATUS_TEXT = {"green": "✓ On target", "amber": "◆ Near target", "red": "✗ Off target"}
UNIT_NAMES = {"fraction": "percent", "seconds": "hh:mm:ss", "points": "points", "score": "score"}


def exact(value: object) -> str:
    """A value as a data attribute: floats with every digit (``repr``), "" for none."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def target_text(tile: Tile) -> str:
    if tile.target is None:
        return MISSING
    sign = "≥" if tile.direction == "higher" else "≤"
    return f"{sign} {format_value(tile.target, tile.unit)}"


def change_text(tile: Tile) -> str:
    """ "+2.1 pp, better" against the previous period; better or worse from the KPI's direction."""
    change = format_change(tile.value, tile.previous, tile.unit)
    if change == MISSING or tile.value == tile.previous:
        return change
    improved = (tile.value > tile.previous) == (tile.direction == "higher")
    return f"{change}, {'better' if improved else 'worse'}"


def chart_days(chart: Chart) -> list[date]:
    return sorted({day for series in chart.series for day, _ in series.points})


def point(series: Series, day: date) -> float | None:
    return dict(series.points).get(day)


@cache
def _environment() -> Environment:
    env = Environment(
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        fmt=format_value,
        exact=exact,
        target_text=target_text,
        change_text=change_text,
        status_text=lambda status: STATUS_TEXT.get(status or "", "– No status"),
        unit_name=lambda unit: UNIT_NAMES.get(unit, unit),
        chart_days=chart_days,
        point=point,
        day_label=lambda day: f"{day:%a} {day.day} {day:%b}",
        when=lambda moment: moment.strftime("%Y-%m-%d %H:%M %Z").strip(),
    )
    return env


def render_charts(report: Report) -> dict[str, str]:
    """Every chart of the report as inline SVG, by chart key."""
    charts = {chart.key: line_chart(chart) for chart in report.trends}
    charts[report.volume_by_channel.key] = bar_chart(report.volume_by_channel)
    charts[report.heatmap.key] = heatmap_chart(report.heatmap)
    return charts


def chart_keys(report: Report) -> list[str]:
    """The keys of every chart the report draws, in page order."""
    return [
        *(chart.key for chart in report.trends),
        report.volume_by_channel.key,
        report.heatmap.key,
    ]


def render_html(report: Report) -> str:
    template = _environment().from_string((TEMPLATES / "report.html.j2").read_text())
    css = (TEMPLATES / "report.css").read_text()
    return template.render(r=report, charts=render_charts(report), css=css)


def render_pdf(html: str) -> bytes:
    """The PDF of the report's HTML, paginated by its print style sheet."""
    from weasyprint import HTML  # imported on use: it loads pango

    # No base URL and nothing to fetch: the page is self-contained.
    return HTML(string=html).write_pdf()
