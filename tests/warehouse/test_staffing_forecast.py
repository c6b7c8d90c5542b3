"""Staffing for the forecast weeks: the forecast's offered contacts of each hour, with the AHT
measured over the history, through Erlang C. A week of history whose Monday holds the classic
reference hour (200 calls of 180 s at 10:00, 80% in 20 s: 14 agents) is forecast again the next
Monday, so that hour needs 14 agents again; the other days' single call needs one agent."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb
import pytest

from schemas.settings import TenantSettings, with_overrides
from tests.warehouse.kpi_fixtures import DAY, build_int_layer, handled_call, settings
from warehouse.forecast import forecast_offered
from warehouse.kpi_marts import refresh_marts
from warehouse.staffing import ALL, forecast_staffing

LAST_DAY = DAY + timedelta(days=6)  # Sunday 2026-01-11: one complete week from Monday


def calls(prefix: str, day: date, hour: int, count: int) -> list:
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


def week(knobs) -> duckdb.DuckDBPyConnection:
    contacts = calls("mon", DAY, 10, 200)
    for offset in range(1, 7):
        contacts += calls(f"d{offset}-", DAY + timedelta(days=offset), 10, 1)
    con = duckdb.connect()
    build_int_layer(con, contacts)
    refresh_marts(con, DAY, LAST_DAY, knobs)
    return con


def test_the_forecast_monday_needs_the_reference_agents() -> None:
    knobs = settings()
    con = week(knobs)
    rows = forecast_offered(con, knobs, LAST_DAY, 1)
    intervals = forecast_staffing(con, knobs, rows, DAY, LAST_DAY)
    voice = {i.hour: i for i in intervals if i.channel == "voice"}
    monday = voice[datetime(2026, 1, 12, 10)]
    assert monday.offered == pytest.approx(200.0)
    assert monday.aht == pytest.approx(180.0)  # (200 + 6) calls of 180 s over the history
    assert (monday.required, monday.positions) == (14, 20)
    assert monday.service_level == pytest.approx(0.8884, abs=5e-5)
    tuesday = voice[datetime(2026, 1, 13, 10)]
    assert (tuesday.offered, tuesday.required) == (pytest.approx(1.0), 1)
    # one hour a day forecast, nothing for the hours without history
    assert len(voice) == 7
    totals = [i for i in intervals if i.channel == ALL]
    assert len(totals) == 7
    assert all(i.logged_in is None and i.status is None for i in totals)
    assert next(i for i in totals if i.hour == monday.hour).required == 14


def test_forecast_hours_carry_their_utc_instant_in_the_tenants_zone() -> None:
    paris = with_overrides(settings(), tenants={"acme": TenantSettings(time_zone="Europe/Paris")})
    con = week(paris)
    rows = forecast_offered(con, paris, LAST_DAY, 1)
    intervals = forecast_staffing(con, paris, rows, DAY, LAST_DAY)
    (monday,) = [i for i in intervals if i.channel == "voice" and i.offered > 100]
    # the calls were at 10:00 UTC, 11:00 in Paris in January
    assert (monday.hour, monday.hour_utc) == (datetime(2026, 1, 12, 11), datetime(2026, 1, 12, 10))
