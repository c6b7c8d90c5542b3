"""The volume forecast (warehouse.forecast) on synthetic series whose forecast is known by hand:
weekly seasonality, trend, closed days, and the backtest's MAPE and WAPE."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import duckdb
import pytest

from schemas.knob_sets import knob_set_id, mart_knobs
from schemas.settings import Settings
from warehouse.forecast import (
    Errors,
    ForecastRun,
    History,
    Method,
    NotEnoughHistory,
    backtest_pairs,
    errors,
    forecast_history,
    forecast_offered,
    forecast_series,
    write_forecast,
)

MONDAY = date(2026, 1, 5)
OPEN_HOURS = range(9, 17)


def weeks_of(count: int, per_hour, first: date = MONDAY) -> dict[datetime, float]:
    """``count`` weeks from ``first``: ``per_hour(week, day, hour)`` contacts in each open hour
    (09:00-17:00), none at night; zero values left out, as the marts leave them out."""
    series = {}
    for offset in range(7 * count):
        day = first + timedelta(days=offset)
        for hour in OPEN_HOURS:
            value = per_hour(offset // 7, day, hour)
            if value:
                series[datetime.combine(day, time(hour))] = float(value)
    return series


def weekly(day: date) -> float:
    """Busy weekdays, a quiet Sunday, closed on Saturday."""
    return {5: 0.0, 6: 2.0}.get(day.weekday(), 10.0)


def at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour))


def test_weekly_seasonality_is_captured_and_closed_days_forecast_zero():
    history = weeks_of(4, lambda _w, day, _h: weekly(day))
    last = MONDAY + timedelta(days=27)  # a Sunday
    forecast = forecast_series(history, MONDAY, last, weeks=2)
    next_monday, next_saturday, next_sunday = (last + timedelta(days=n) for n in (1, 6, 7))
    assert len(forecast) == 14 * 24
    assert forecast[at(next_monday, 10)] == pytest.approx(10.0)
    assert forecast[at(next_sunday, 10)] == pytest.approx(2.0)
    assert forecast[at(next_monday, 10)] > forecast[at(next_sunday, 10)]
    # closed: Saturday all day, and every night
    assert sum(v for h, v in forecast.items() if h.date() == next_saturday) == 0.0
    assert all(forecast[at(next_monday, hour)] == 0.0 for hour in (0, 3, 8, 17, 23))
    # the second week repeats the first (no trend in a flat history)
    assert forecast[at(next_monday + timedelta(days=7), 10)] == pytest.approx(10.0)


def test_the_intraday_profile_is_kept():
    history = weeks_of(3, lambda _w, _d, hour: hour - 8)  # 1 at 09:00 .. 8 at 16:00
    forecast = forecast_series(history, MONDAY, MONDAY + timedelta(days=20), weeks=1)
    tuesday = MONDAY + timedelta(days=22)
    assert [forecast[at(tuesday, h)] for h in OPEN_HOURS] == pytest.approx(range(1, 9))


def test_a_linear_trend_is_followed():
    # weekday hours grow by 1 contact a week: 10, 11, 12, 13 -> 14 and 15 next
    history = weeks_of(4, lambda week, day, _h: (10 + week) * (day.weekday() < 5))
    forecast = forecast_series(history, MONDAY, MONDAY + timedelta(days=27), weeks=2)
    assert forecast[at(MONDAY + timedelta(days=28), 12)] == pytest.approx(14.0)
    assert forecast[at(MONDAY + timedelta(days=39), 12)] == pytest.approx(15.0)  # a Friday
    assert forecast[at(MONDAY + timedelta(days=33), 12)] == 0.0  # a Saturday


def test_a_falling_trend_stops_at_zero():
    history = weeks_of(4, lambda week, _d, _h: 30 - 10 * week)  # 30, 20, 10, 0
    forecast = forecast_series(history, MONDAY, MONDAY + timedelta(days=27), weeks=2)
    assert min(forecast.values()) == 0.0
    assert max(forecast.values()) == 0.0  # the line is below zero in both weeks


def test_two_weeks_of_history_give_no_trend():
    # a line through two points would double the forecast; below MIN_TREND_WEEKS it is flat
    history = weeks_of(2, lambda week, _d, _h: 10 * (week + 1))
    forecast = forecast_series(history, MONDAY, MONDAY + timedelta(days=13), weeks=1)
    assert forecast[at(MONDAY + timedelta(days=14), 9)] == pytest.approx(15.0)


def test_season_weeks_bounds_the_weeks_averaged():
    history = weeks_of(4, lambda week, _d, _h: 100 if week == 0 else 10)
    method = Method(season_weeks=3, trend_weeks=1)  # no trend: only the seasonal means
    forecast = forecast_series(history, MONDAY, MONDAY + timedelta(days=27), 1, method)
    assert forecast[at(MONDAY + timedelta(days=28), 9)] == pytest.approx(10.0)


def test_less_than_a_week_of_history_is_refused():
    history = weeks_of(1, lambda *_: 5)
    with pytest.raises(NotEnoughHistory):
        forecast_series(history, MONDAY, MONDAY + timedelta(days=5), weeks=1)


def test_mape_and_wape_by_hand():
    # (forecast, actual): absolute errors 2, 0, 3, 4; actuals sum to 17
    result = errors([(10.0, 8.0), (5.0, 5.0), (3.0, 0.0), (0.0, 4.0)])
    assert result == Errors(
        intervals=4,
        intervals_with_contacts=3,
        actual=17.0,
        forecast=18.0,
        mape=pytest.approx((2 / 8 + 0 / 5 + 4 / 4) / 3),
        wape=pytest.approx(9 / 17),
    )
    assert errors([(1.0, 0.0)]).mape is None
    assert errors([(1.0, 0.0)]).wape is None


def test_backtest_forecasts_the_held_out_week_from_the_weeks_before():
    # three weeks of 10 per weekday hour, then a held-out week of 12: every error is 2
    history = weeks_of(4, lambda week, day, _h: (12 if week == 3 else 10) * (day.weekday() < 5))
    pairs = backtest_pairs(history, MONDAY, MONDAY + timedelta(days=27), holdout_weeks=1)
    assert len(pairs) == 7 * 24
    result = errors(pairs)
    assert (result.actual, result.forecast) == (12.0 * 40, 10.0 * 40)
    assert result.mape == pytest.approx(2 / 12)
    assert result.wape == pytest.approx(80 / 480)


def test_forecast_history_pools_the_backtests_and_skips_short_series():
    last = MONDAY + timedelta(days=27)
    voice = weeks_of(4, lambda week, *_: 12 if week == 3 else 10)
    chat = weeks_of(4, lambda week, *_: 6 if week == 3 else 5)
    late = weeks_of(1, lambda *_: 3, first=last - timedelta(days=6))  # only the held-out week
    history = History(
        {("acme", "voice"): voice, ("acme", "chat"): chat, ("acme", "sms"): late},
        {("acme", "voice"): MONDAY, ("acme", "chat"): MONDAY, ("acme", "sms"): late_first(late)},
        last,
    )
    run = forecast_history(history, weeks=1, holdout_weeks=1)
    assert {(r.tenant, r.channel) for r in run.rows} == {
        ("acme", "voice"),
        ("acme", "chat"),
        ("acme", "sms"),
    }
    assert "not backtested" in run.skipped[("acme", "sms")]
    tests = {(t.tenant, t.channel): t.errors for t in run.backtests}
    assert tests[("acme", "voice")].wape == pytest.approx(2 / 12)
    assert tests[("acme", "chat")].wape == pytest.approx(1 / 6)
    # pooled: |err| 2*56 + 1*56 over actual 12*56 + 6*56
    assert tests[(None, None)].wape == pytest.approx(3 / 18)
    assert tests[(None, None)].intervals == 2 * 7 * 24


def late_first(series: dict[datetime, float]) -> date:
    return min(series).date()


def test_write_forecast_replaces_the_rows_of_the_tenants_forecast():
    last = MONDAY + timedelta(days=27)
    con = duckdb.connect()

    def run_of(tenant: str, per_hour: float) -> ForecastRun:
        series = weeks_of(4, lambda *_: per_hour)
        return forecast_history(
            History({(tenant, "voice"): series}, {(tenant, "voice"): MONDAY}, last), 1
        )

    made_at = datetime(2026, 2, 2, 6, 0, tzinfo=UTC)
    write_forecast(con, run_of("acme", 10.0), "k1", made_at)
    write_forecast(con, run_of("bluewave", 4.0), "k1", made_at)
    write_forecast(con, run_of("acme", 20.0), "k1", made_at)
    totals = con.execute(
        "select tenant, sum(offered), count(*), any_value(weekday order by hour) "
        "from mart_forecast group by tenant order by tenant"
    ).fetchall()
    assert totals == [
        ("acme", 20.0 * 56, 7 * 24, "Monday"),
        ("bluewave", 4.0 * 56, 7 * 24, "Monday"),
    ]
    backtests = con.execute(
        "select tenant, channel, wape, method, knob_set from mart_forecast_backtest order by all"
    ).fetchall()
    # the pooled row (no tenant) is the last run's
    assert backtests == [
        ("acme", "voice", 0.0, Method().name, "k1"),
        ("bluewave", "voice", 0.0, Method().name, "k1"),
        (None, None, 0.0, Method().name, "k1"),
    ]


def test_forecast_offered_reads_the_current_knob_set_of_one_tenant():
    settings = Settings()
    current = knob_set_id(mart_knobs(settings))
    con = duckdb.connect()
    con.execute(
        "create table mart_contact_kpis_hourly (day date, hour timestamp, tenant varchar, "
        "channel varchar, knob_set varchar, offered bigint)"
    )
    last = MONDAY + timedelta(days=13)
    open_hours = weeks_of(2, lambda *_: 1)
    rows = [
        (hour.date(), hour, tenant, "voice", knob_set, count)
        for tenant, knob_set, count in (
            ("acme", current, 6),
            ("acme", "other", 50),
            ("b", current, 1),
        )
        for hour in open_hours
    ]
    # two queues in one hour: the forecast is per tenant x channel, the queues add up
    rows.append((MONDAY, at(MONDAY, 9), "acme", "voice", current, 2))
    con.executemany("insert into mart_contact_kpis_hourly values (?, ?, ?, ?, ?, ?)", rows)
    forecast = forecast_offered(con, settings, last, weeks=1, tenant="acme")
    assert {(row.tenant, row.channel) for row in forecast} == {("acme", "voice")}
    by_hour = {row.hour: row.offered for row in forecast}
    assert len(by_hour) == 7 * 24
    assert by_hour[at(last + timedelta(days=1), 9)] == pytest.approx((8 + 6) / 2)
    assert by_hour[at(last + timedelta(days=2), 9)] == pytest.approx(6.0)
    assert by_hour[at(last + timedelta(days=2), 20)] == 0.0
