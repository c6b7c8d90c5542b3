"""The report of a real simulated run through the pipeline (the session's ``simulated_pipeline``:
Kafka, the stream, the lake sink, the Dagster refresh): the numbers in its HTML are the KPI
marts', its PDF has a page per section with the headline numbers on the first, and every chart
is in both formats."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestration.reports.model import Period, Report
from orchestration.reports.output import build, write_report
from orchestration.reports.render import chart_keys
from orchestration.reports.units import format_value
from pipelines.simulator.catalog import TENANT_NAMES
from tests.orchestration.report_fixtures import (
    SECTIONS,
    assert_html_equals_marts,
    flat,
    pdf_pages,
    read_hooks,
)
from tests.simulated_pipeline import FIRST_DAY, LAST_DAY, SimulatedPipeline
from warehouse.build import connect_read_only

GENERATED_AT = datetime(2026, 1, 8, 7, 0, tzinfo=UTC)
PERIOD = Period.between(FIRST_DAY, LAST_DAY)
TENANT = TENANT_NAMES[0]


@dataclass(frozen=True)
class Written:
    report: Report
    html: Path
    pdf: Path


@pytest.fixture(scope="module")
def written(simulated_pipeline: SimulatedPipeline, tmp_path_factory) -> Written:
    settings = simulated_pipeline.settings
    out = tmp_path_factory.mktemp("reports")
    html, pdf = write_report(settings, PERIOD, TENANT, ("html", "pdf"), out, GENERATED_AT)
    return Written(build(settings, PERIOD, TENANT, GENERATED_AT), html, pdf)


def test_the_numbers_in_the_html_are_the_kpi_marts(simulated_pipeline, written, tmp_path):
    settings = simulated_pipeline.settings
    (overall,) = write_report(settings, PERIOD, None, ("html",), tmp_path, GENERATED_AT)
    with connect_read_only(settings) as con:
        assert_html_equals_marts(written.html.read_text(), con, settings, PERIOD, TENANT)
        assert_html_equals_marts(overall.read_text(), con, settings, PERIOD, None)


def test_the_pdf_has_a_page_per_section_and_the_headline_numbers(written):
    pages = [flat(text) for text in pdf_pages(written.pdf.read_bytes())]
    starts = [next(i for i, text in enumerate(pages) if flat(s) in text) for s in SECTIONS]
    assert starts[0] == 0 and starts == sorted(set(starts))  # each section on its own pages
    for number, text in enumerate(pages, start=1):
        assert f"Page{number}of{len(pages)}" in text
    tiles = [t for t in written.report.tiles if t.value is not None]
    assert len(tiles) >= 10
    for tile in tiles:
        assert flat(format_value(tile.value, tile.unit)) in pages[0], tile.kpi


def test_every_chart_is_in_both_formats(written):
    hooks = read_hooks(written.html.read_text())
    assert hooks.svgs == {key: 1 for key in chart_keys(written.report)}
    text = "".join(flat(page) for page in pdf_pages(written.pdf.read_bytes()))
    for chart in (*written.report.trends, written.report.volume_by_channel):
        assert flat(chart.title) in text, chart.key
    assert flat(written.report.heatmap.title) in text
