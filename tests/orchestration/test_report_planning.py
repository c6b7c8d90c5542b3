"""The executive report's staffing, forecast and outbound/compliance sections on a hand-made
lake: a Monday (2026-01-05) with the classic Erlang C hour (200 voice calls of 180 s at 10:00,
against 10 agents logged in: 14 needed) and a quiet 11:00 (20 calls: 3 needed), a call a day at
10:00 on the six days before (one complete week of history for the forecast), and the outbound
day of tests/warehouse/outbound_fixtures.py (eight attempts; opt-outs broken by three of them
in this lake, where erin's e-mail is linked to nobody)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from orchestration.reports.build import build_report
from orchestration.reports.model import Period
from orchestration.reports.render import render_html
from schemas.settings import with_overrides
from tests.warehouse.kpi_fixtures import DAY, handled_call, settings, span, write_lake
from tests.warehouse.outbound_fixtures import violations_day
from warehouse.build import build_warehouse, connect_read_only
from warehouse.kpi_marts import refresh_marts

GENERATED_AT = datetime(2026, 1, 6, 7, 0, tzinfo=UTC)
FIRST_HISTORY_DAY = DAY - timedelta(days=6)


def calls(prefix: str, day: date, hour: int, count: int) -> list:
    """``count`` voice calls spread over the hour, answered at once: 150 s talk + 30 s ACW."""
    spacing = 3600 // count
    return [
        handled_call(
            f"{prefix}{n}",
            f"{day}T{hour:02d}:{n * spacing // 60:02d}:{n * spacing % 60:02d}",
            answered=0.0,
            ended=150.0,
            wrapped=180.0,
            customer=f"{prefix}{n}",
        )
        for n in range(count)
    ]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    home: Path = tmp_path_factory.mktemp("report-planning")
    knobs = with_overrides(settings(), home=home)
    history = [
        call
        for offset in range(1, 7)
        for call in calls(f"h{offset}-", DAY - timedelta(days=offset), 10, 1)
    ]
    agents = [
        span(f"agent-{n}", "available", "2026-01-05T10:00:00", "2026-01-05T12:00:00")
        for n in range(10)
    ]
    outbound_contacts, events = violations_day()
    inbound = [*calls("a", DAY, 10, 200), *calls("b", DAY, 11, 20), *history]
    write_lake(knobs, [*inbound, *outbound_contacts], spans=agents, events=events)
    build_warehouse(knobs, marts=lambda con: refresh_marts(con, FIRST_HISTORY_DAY, DAY, knobs))
    with connect_read_only(knobs) as con:
        yield build_report(knobs, con, Period.ending("day", DAY), "acme", GENERATED_AT)


def test_the_under_staffed_hour_is_the_staffing_gap(report):
    gaps = report.staffing_gaps
    assert gaps.title.startswith("Staffing gaps: 1 of 2 hours under-staffed")
    # 14 agents needed (Erlang C, 80% in 20 s), 20 positions with 30% shrinkage, 10 logged in
    assert gaps.rows == (("Mon 05 Jan 10:00", 200, 14, 20, 10.0, 4.0),)


def test_the_forecast_repeats_the_week_of_history(report):
    table = report.forecast
    assert table.columns == ("Channel", "Week from 06 Jan", "Week from 13 Jan", "Backtest WAPE")
    ((channel, first, second, wape),) = table.rows
    # six days of one call, and a Monday of 220 (one complete week: no trend, no backtest)
    assert (channel, wape) == ("voice", None)
    assert (first, second) == (pytest.approx(226.0), pytest.approx(226.0))


def test_outbound_campaigns_and_their_violations(report):
    rows = {row[:2]: row[2:] for row in report.outbound.rows}
    assert rows[("renewals", "predictive")] == (6, 0.0, None, None, None)
    assert rows[("renewals", "preview")] == (1, 1.0, None, 1.0, None)  # nobody spoke
    assert rows[("winback", "predictive")] == (1, 0.0, None, None, None)
    compliance = report.compliance
    assert compliance.title == "Opt-out violations: 3 attempt(s) to customers who had opted out"
    assert compliance.rows == (("renewals", "all contact", 2), ("renewals", "campaign", 1))


def test_the_html_report_holds_the_new_sections(report):
    html = render_html(report)
    for key in ("staffing_gaps", "forecast", "outbound", "compliance"):
        assert f'data-table="{key}"' in html
    assert "Outbound and compliance" in html
