"""Staffing at 15- and 30-minute intervals: 100 calls of 180 s in the first half hour of 10:00
(the classic reference: 10 Erlangs over 30 minutes, 80% in 20 s, need 14 agents) and none in
the second, with 10 agents logged in all hour. Per hour the load averages out (5 Erlangs: 8
agents suffice); per half hour the first half is under-staffed and the second over-staffed."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pytest

from schemas.settings import TenantSettings, with_overrides
from tests.warehouse.kpi_fixtures import DAY, build_int_layer, handled_call, settings, span
from warehouse.kpi_marts import refresh_marts
from warehouse.staffing import ALL, staffing


def half_hour_rush(knobs) -> duckdb.DuckDBPyConnection:
    calls = [
        handled_call(
            f"c{n}",
            f"2026-01-05T10:{n * 18 // 60:02d}:{n * 18 % 60:02d}",
            answered=0.0,
            ended=150.0,
            wrapped=180.0,
            customer=f"c{n}",
        )
        for n in range(100)
    ]
    agents = [
        span(f"agent-{n}", "available", "2026-01-05T10:00:00", "2026-01-05T11:00:00")
        for n in range(10)
    ]
    con = duckdb.connect()
    build_int_layer(con, calls, spans=agents)
    refresh_marts(con, DAY, DAY, knobs)
    return con


def totals(intervals) -> dict[datetime, tuple]:
    return {
        i.hour: (i.offered, i.required, i.logged_in, i.status)
        for i in intervals
        if i.channel == ALL
    }


def test_half_hours_show_the_gap_the_hour_hides() -> None:
    knobs = settings()
    con = half_hour_rush(knobs)
    assert totals(staffing(con, DAY, DAY, knobs)) == {
        datetime(2026, 1, 5, 10): (100, 8, 10.0, "ok")
    }
    halves = staffing(con, DAY, DAY, knobs, interval_minutes=30)
    assert totals(halves) == {
        datetime(2026, 1, 5, 10, 0): (100, 14, 10.0, "under"),
        datetime(2026, 1, 5, 10, 30): (0, 0, 10.0, "over"),
    }
    (voice,) = [i for i in halves if i.channel == "voice"]
    assert (voice.traffic, voice.service_level) == (
        pytest.approx(10.0),
        pytest.approx(0.8884, abs=5e-5),
    )


def test_quarter_hours_in_a_tenants_zone() -> None:
    paris = with_overrides(settings(), tenants={"acme": TenantSettings(time_zone="Europe/Paris")})
    con = half_hour_rush(paris)
    quarters = staffing(con, DAY, DAY, paris, interval_minutes=15)
    # 11:00 in Paris is 10:00 UTC; 50 calls per quarter are 10 Erlangs again
    assert totals(quarters) == {
        datetime(2026, 1, 5, 11, 0): (50, 14, 10.0, "under"),
        datetime(2026, 1, 5, 11, 15): (50, 14, 10.0, "under"),
        datetime(2026, 1, 5, 11, 30): (0, 0, 10.0, "over"),
        datetime(2026, 1, 5, 11, 45): (0, 0, 10.0, "over"),
    }
    assert {i.hour_utc for i in quarters} == {datetime(2026, 1, 5, 10, m) for m in (0, 15, 30, 45)}


def test_other_interval_lengths_are_refused() -> None:
    knobs = settings()
    with pytest.raises(ValueError, match="15, 30 or 60 minutes, not 20"):
        staffing(duckdb.connect(), DAY, DAY, knobs, interval_minutes=20)
