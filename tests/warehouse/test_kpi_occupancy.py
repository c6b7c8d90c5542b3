"""occupancy.v1 from agent state spans: (busy + after-contact work) / (that + available)."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.warehouse.kpi_fixtures import DAY, NEXT_DAY, handled_call, kpis, refreshed, span


def agent_evening():
    """ACW 22:00-22:15, available 22:15-23:30, busy 23:30-00:30 (across midnight: a state lasts
    at most until the end of its day, so 00:00-00:30 is not counted), available 00:30-01:00,
    then a break (not in occupancy)."""
    return [
        span("agent-1", "after_contact_work", "2026-01-05T22:00:00", "2026-01-05T22:15:00"),
        span("agent-1", "available", "2026-01-05T22:15:00", "2026-01-05T23:30:00"),
        span("agent-1", "busy", "2026-01-05T23:30:00", "2026-01-06T00:30:00"),
        span("agent-1", "available", "2026-01-06T00:30:00", "2026-01-06T01:00:00"),
        span("agent-1", "break", "2026-01-06T01:00:00", "2026-01-06T01:15:00"),
    ]


def test_occupancy_per_day_with_a_span_across_midnight():
    con = refreshed([], spans=agent_evening(), date_to=NEXT_DAY)
    daily = kpis(con, ("day",), date_to=NEXT_DAY)
    # day 1: (1800 busy + 900 ACW) / (2700 + 4500 available)
    first = daily[("occupancy.v1", DAY)]
    assert (first["numerator"], first["denominator"]) == (2700.0, 7200.0)
    # day 2: the busy state started on day 1, so only 1800 s available: 0 / 1800
    second = daily[("occupancy.v1", NEXT_DAY)]
    assert (second["numerator"], second["denominator"]) == (0.0, 1800.0)
    # the range: (2700 + 0) / (7200 + 1800), not the mean of 0.375 and 0
    assert kpis(con, date_to=NEXT_DAY)[("occupancy.v1",)]["value"] == pytest.approx(2700 / 9000)


def test_spans_are_cut_at_hour_boundaries():
    con = refreshed([], spans=agent_evening(), date_to=NEXT_DAY)
    hourly = kpis(con, ("hour", "agent"), date_to=NEXT_DAY)

    def at(hour: datetime) -> float:
        return hourly[("occupancy.v1", hour, "agent-1")]["value"]

    assert at(datetime(2026, 1, 5, 22)) == pytest.approx(900 / 3600)  # ACW 15 min, then idle
    assert at(datetime(2026, 1, 5, 23)) == pytest.approx(0.5)  # 30 min idle, 30 min busy
    assert at(datetime(2026, 1, 6, 0)) == 0.0  # the busy half hour belongs to no day
    assert ("occupancy.v1", datetime(2026, 1, 6, 1), "agent-1") not in hourly  # on break


def test_occupancy_is_not_split_by_channel_or_queue():
    con = refreshed(
        [handled_call("c1", "2026-01-05T22:05:00")], spans=agent_evening(), date_to=NEXT_DAY
    )
    by_channel = kpis(con, ("channel",), date_to=NEXT_DAY)
    assert not [k for k in by_channel if k[0] == "occupancy.v1"]
    assert ("aht.v1", "voice") in by_channel
    by_tenant = kpis(con, ("tenant",), date_to=NEXT_DAY)
    assert by_tenant[("occupancy.v1", "acme")]["value"] == pytest.approx(2700 / 9000)
