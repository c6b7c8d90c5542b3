"""The report's charts as inline SVG (matplotlib figures drawn straight to SVG: no pyplot, no
GUI backend, no global figure state): no file, no network, no font download (DejaVu Sans, which
matplotlib ships).

Every chart reads in grayscale: series differ by marker, line style or hatching as well as by
shade, never by colour alone. Text stays text (``svg.fonttype = none``) so that the chart's
title and labels can be searched and selected in the HTML and in the PDF.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta

from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from orchestration.reports.model import Chart, Table
from orchestration.reports.units import axis_scale

# Shades that stay apart when printed in gray, each with its own marker, line and hatch.
COLOURS = ("#1f3b73", "#c8702a", "#5b8f3a", "#7a7a7a", "#9c3d64", "#2a8a9c")
MARKERS = ("o", "s", "^", "D", "v", "P")
LINES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1)), (0, (1, 1)))
HATCHES = ("", "///", "...", "xxx", "\\\\\\", "ooo")

WIDTH_IN = 3.5  # two charts side by side on an A4 page
FULL_WIDTH_IN = 7.1
HEIGHT_IN = 2.3

_RC = {
    "font.family": "DejaVu Sans",
    "font.size": 7.5,
    "axes.titlesize": 8.5,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#d9d9d9",
    "grid.linewidth": 0.5,
    "svg.fonttype": "none",
}


@contextmanager
def _figure(key: str, width: float = WIDTH_IN, height: float = HEIGHT_IN) -> Iterator[Figure]:
    # A salt per chart: the SVG's element ids are stable from run to run (the key also prefixes
    # them, so that several charts inlined in one page never share an id).
    with rc_context({**_RC, "svg.hashsalt": key}):
        yield Figure(figsize=(width, height), layout="constrained")


def _svg(figure: Figure, key: str) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]  # drop the XML declaration and doctype: inlined in HTML
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{key}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{key}-\1)", svg)
    svg = re.sub(r'xlink:href="#([^"]+)"', rf'xlink:href="#{key}-\1"', svg)
    return svg.replace("<svg ", f'<svg role="img" aria-label="chart {key}" ', 1)


def _has_values(chart: Chart) -> bool:
    return any(value is not None for series in chart.series for _, value in series.points)


def _highest(chart: Chart) -> float:
    return max((v for s in chart.series for _, v in s.points if v is not None), default=0.0)


def line_chart(chart: Chart) -> str:
    """A trend by day, one line per series."""
    factor, label = axis_scale(chart.unit, _highest(chart))
    with _figure(chart.key) as figure:
        axes = figure.add_subplot()
        for i, series in enumerate(chart.series):
            days = [day for day, _ in series.points]
            values = [None if v is None else v * factor for _, v in series.points]
            axes.plot(
                days,
                [float("nan") if v is None else v for v in values],
                label=series.name,
                color=COLOURS[i % len(COLOURS)],
                marker=MARKERS[i % len(MARKERS)],
                linestyle=LINES[i % len(LINES)],
                markersize=3.5,
                linewidth=1.3,
            )
        _finish(axes, chart, label, _all_days(chart))
        return _svg(figure, chart.key)


def bar_chart(chart: Chart) -> str:
    """Volume by day: stacked bars, one hatched shade per series."""
    factor, label = axis_scale(chart.unit)
    days = _all_days(chart)
    with _figure(chart.key, width=FULL_WIDTH_IN, height=2.4) as figure:
        axes = figure.add_subplot()
        bottoms = [0.0] * len(days)
        for i, series in enumerate(chart.series):
            by_day = dict(series.points)
            heights = [(by_day.get(day) or 0.0) * factor for day in days]
            axes.bar(
                range(len(days)),
                heights,
                bottom=bottoms,
                label=series.name,
                color=COLOURS[i % len(COLOURS)],
                hatch=HATCHES[i % len(HATCHES)],
                edgecolor="white",
                linewidth=0.4,
            )
            bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
        axes.set_xticks(range(len(days)), [_day_label(day, len(days)) for day in days])
        _finish(axes, chart, label, None)
        return _svg(figure, chart.key)


def heatmap_chart(table: Table) -> str:
    """Weekday × hour of day: the first column names the row, the others are counts."""
    rows = [[float(v or 0) for v in row[1:]] for row in table.rows]
    with _figure(table.key, width=FULL_WIDTH_IN, height=2.4) as figure:
        axes = figure.add_subplot()
        axes.grid(False)
        if rows:
            image = axes.imshow(rows, cmap="Greys", aspect="auto", vmin=0)
            highest = max(max(row) for row in rows) or 1.0
            for y, row in enumerate(rows):
                for x, value in enumerate(row):
                    if value:
                        shade = "white" if value > highest * 0.55 else "black"
                        axes.text(
                            x,
                            y,
                            f"{value:.0f}",
                            ha="center",
                            va="center",
                            fontsize=5.5,
                            color=shade,
                        )
            figure.colorbar(image, ax=axes, shrink=0.8, label="contacts offered")
        axes.set_yticks(range(len(table.rows)), [str(row[0]) for row in table.rows])
        axes.set_xticks(range(len(table.columns) - 1), list(table.columns[1:]))
        axes.set_xlabel("hour of day (reporting time zone)")
        _title(figure, table.title)
        return _svg(figure, table.key)


def _minutes_seconds(minutes: float, _position: int) -> str:
    whole, seconds = divmod(round(minutes * 60), 60)
    return f"{whole}:{seconds:02d}"


def _title(figure: Figure, title: str) -> None:
    # From the figure's left edge rather than the axes': a long title keeps the whole width.
    figure.suptitle(title, x=0.01, ha="left", fontsize=8.5, fontweight="bold")


def _all_days(chart: Chart) -> list[date]:
    return sorted({day for series in chart.series for day, _ in series.points})


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time())


def _day_label(day: date, count: int) -> str:
    return f"{day:%a} {day.day}" if count <= 8 else f"{day.day}"


def _finish(axes, chart: Chart, label: str, days: list[date] | None) -> None:
    _title(axes.figure, chart.title)
    axes.set_ylabel(label, labelpad=6)
    if days:
        axes.set_xticks(days, [_day_label(day, len(days)) for day in days])
        # Half a day of margin either side: a series with one value still spans the period.
        half = timedelta(hours=12)
        axes.set_xlim(_midnight(days[0]) - half, _midnight(days[-1]) + half)
        if len(days) > 8:  # a month: every other day
            for i, tick in enumerate(axes.get_xticklabels()):
                tick.set_visible(i % 2 == 0)
    if chart.unit == "fraction":
        axes.set_ylim(bottom=0)
    if label == "minutes":  # 7:30 rather than 7.5
        axes.yaxis.set_major_formatter(FuncFormatter(_minutes_seconds))
    if not _has_values(chart):
        axes.text(0.5, 0.5, "no data", transform=axes.transAxes, ha="center", color="#555555")
    if len(chart.series) > 1:
        # Under the axes, never over the lines.
        axes.legend(
            fontsize=6.5,
            frameon=False,
            ncols=min(len(chart.series), 3),
            loc="upper center",
            bbox_to_anchor=(0.5, -0.13),
            handlelength=2.5,
        )
