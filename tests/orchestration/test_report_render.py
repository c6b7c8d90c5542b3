"""Rendering a report model (hand-made: tests/orchestration/report_fixtures.py) to HTML and PDF:
values in people's units with their exact hooks, every chart in both formats, the pages and
their running headers and footers, and a report without any value."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from orchestration.reports.model import Report
from orchestration.reports.render import chart_keys, render_html, render_pdf
from orchestration.reports.units import MISSING, format_change, format_value
from tests.orchestration.report_fixtures import SECTIONS, flat, pdf_pages, read_hooks, sample_report


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (0.8125, "fraction", "81.2%"),
        (0.0, "fraction", "0.0%"),
        (31.4, "seconds", "00:00:31"),
        (3725.6, "seconds", "01:02:06"),
        (23.456, "points", "+23.5"),
        (-7.0, "points", "−7.0"),
        (4.214, "score", "4.21"),
        (12345, "count", "12,345"),
        ("billing", "text", "billing"),
        (None, "fraction", MISSING),
        (float("nan"), "seconds", MISSING),
    ],
)
def test_values_are_shown_in_peoples_units(value, unit, shown) -> None:
    assert format_value(value, unit) == shown


@pytest.mark.parametrize(
    ("value", "previous", "unit", "shown"),
    [
        (0.8125, 0.75, "fraction", "+6.2 pp"),
        (0.70, 0.75, "fraction", "−5.0 pp"),
        (31.4, 40.0, "seconds", "−00:00:09"),
        (40.0, 40.2, "seconds", "±00:00:00"),
        (23.456, 20.0, "points", "+3.5 pts"),
        (120, 100, "count", "+20"),
        (0.5, None, "fraction", MISSING),
    ],
)
def test_changes_are_shown_in_the_units_own_terms(value, previous, unit, shown) -> None:
    assert format_change(value, previous, unit) == shown


def test_the_html_shows_every_tile_with_its_exact_value_target_status_and_change(
    rendered: Rendered,
) -> None:
    report = rendered.report
    hooks = read_hooks(rendered.html)

    assert set(hooks.tiles) == {(t.kpi, t.channel or "") for t in report.tiles}
    sl = hooks.tiles[("service_level.v1", "voice")]
    assert (sl["data-value"], sl["data-target"], sl["data-previous"]) == ("0.8125", "0.8", "0.75")
    assert sl["data-status"] == "green"
    for words in ("81.2%", "Target ≥ 80.0%", "✓ On target", "+6.2 pp, better vs previous"):
        assert words in hooks.texts
    # lower is better: a shorter wait is better, the red abandon rate says so in words
    assert "−00:00:09, better vs previous" in hooks.texts
    assert "✗ Off target" in hooks.texts
    # no previous value: the change is a dash, not 0
    assert hooks.tiles[("abandon_rate.v1", "")]["data-previous"] == ""
    assert f"{MISSING} vs previous" in hooks.texts


def test_every_chart_is_inline_svg_with_its_numbers_beside_it(rendered: Rendered) -> None:
    report = rendered.report
    hooks = read_hooks(rendered.html)

    assert hooks.svgs == {key: 1 for key in chart_keys(report)}
    assert len(chart_keys(report)) == 10
    sl = next(c for c in report.trends if c.key == "trend_service_level")
    cells = [c for c in hooks.cells["trend_service_level"] if "data-series" in c]
    shown = {(c["data-series"], c["data-value"]) for c in cells}
    expected = {(s.name, "" if v is None else repr(v)) for s in sl.series for _, v in s.points}
    assert shown == expected and ("chat", "") in shown  # the missing day of chat is a dash
    heat = hooks.cells["heatmap"]
    assert [c["data-value"] for c in heat[1:25]] == [str(v) for v in report.heatmap.rows[0][1:]]


def test_the_html_needs_no_network(rendered: Rendered) -> None:
    html = rendered.html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "<link" not in html and "<script" not in html and "@import" not in html


@dataclass(frozen=True)
class Rendered:
    report: Report
    html: str
    pages: list[str]  # the PDF's pages' text, without whitespace (``_flat``)


@pytest.fixture(scope="module")
def rendered() -> Rendered:
    """The sample report rendered once for the module (a PDF takes seconds)."""
    report = sample_report()
    html = render_html(report)
    return Rendered(report, html, [flat(text) for text in pdf_pages(render_pdf(html))])


def test_the_pdf_has_a_page_per_section_with_headers_footers_and_the_headline_numbers(
    rendered: Rendered,
) -> None:
    pages = rendered.pages

    # The trends take two pages (four charts a page); every other section one.
    first_pages = {section: 1 + next(i for i, t in enumerate(pages) if flat(section) in t)
                   for section in SECTIONS}  # fmt: skip
    assert first_pages == {section: i + (i > 2) for i, section in enumerate(SECTIONS, start=1)}
    assert len(pages) == len(SECTIONS) + 1
    for number, text in enumerate(pages, start=1):
        assert f"Page{number}of{len(pages)}" in text
        assert flat("Brand A · KPI report") in text
        assert flat("Week 2, 5–11 Jan 2026") in text
        assert flat("Days and hours of Europe/Paris · generated 2026-01-12 07:00 UTC") in text
    for headline in ("81.2%", "00:00:31", "7.1%", "+23.5", "Target ≥ 80.0%", "◆ Near target"):
        assert flat(headline) in pages[0]


def test_every_chart_is_drawn_in_the_pdf(rendered: Rendered) -> None:
    """The charts' text stays text: each chart's title (drawn only inside its SVG) and its axis
    label are on the page."""
    report, text = rendered.report, "".join(rendered.pages)
    for chart in (*report.trends, report.volume_by_channel):
        assert flat(chart.title) in text
    assert flat(report.heatmap.title) in text
    assert flat("hour of day (reporting time zone)") in text


def test_a_report_without_values_renders_dashes_in_both_formats() -> None:
    report = sample_report(empty=True)
    html = render_html(report)
    hooks = read_hooks(html)

    assert all(tile["data-value"] == "" for tile in hooks.tiles.values())
    assert hooks.texts.count(MISSING) >= len(report.tiles)
    assert "No data for this period." in hooks.texts
    assert hooks.svgs == {key: 1 for key in chart_keys(report)}
    pages = pdf_pages(render_pdf(html))
    assert "no data" in "\n".join(pages)
