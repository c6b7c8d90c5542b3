"""The forecast backtest on simulated weeks: five weeks of a small simulated centre (no broker:
its contact facts go straight into the intermediate layer, as in test_kpi_ground_truth), the
last two held out and forecast from the three before, the errors printed (``pytest -s``).

The simulator staffs, and sizes arrivals to, a weekly profile (pipelines/simulator/catalog.py,
DAY_OF_WEEK_FACTOR: Saturday at 0.5 and Sunday at 0.35 of a Monday, in whole agents, so a team
of three or more shows it) and an intraday one, and is closed 22:00-06:00 UTC; the tenant
reports in UTC. With a few contacts an hour, Poisson noise alone makes hourly errors of tens of
percent, so the backtest is judged against a flat forecast of the same history."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import duckdb
import pytest

from pipelines.simulator.config import FaultRates, SimulationConfig
from pipelines.simulator.run import Simulation
from tests.warehouse.kpi_fixtures import DAY, build_int_layer, settings
from warehouse.forecast import errors, forecast_history, load_history
from warehouse.kpi_marts import prepare_marts, refresh_mart

WEEKS = 5
HOLDOUT_WEEKS = 2
LAST_DAY = DAY + timedelta(days=7 * WEEKS - 1)  # DAY is a Monday: the last day is a Sunday
HOLDOUT_FROM = LAST_DAY - timedelta(days=7 * HOLDOUT_WEEKS - 1)


@pytest.fixture(scope="module")
def simulated():
    knobs = settings()
    config = SimulationConfig(
        seed=11,
        days=7 * WEEKS,
        agents=12,
        tenants=1,
        load=0.25,
        start=DAY,
        outages=False,
        faults=FaultRates.none(),
    )
    simulation = Simulation(config, knobs)
    produced = sum(1 for _ in simulation.messages())  # the facts are known once produced
    assert produced > 0
    con = duckdb.connect()
    build_int_layer(con, list(simulation.contact_facts()), journeys=[])
    prepare_marts(con, knobs)  # only the mart the forecast reads
    refresh_mart(con, "mart_contact_kpis_hourly", DAY, LAST_DAY)
    history = load_history(con, knobs, LAST_DAY)
    run = forecast_history(history, weeks=1, holdout_weeks=HOLDOUT_WEEKS)
    for test in run.backtests:
        e = test.errors
        print(
            f"backtest {test.tenant or 'all'} {test.channel or 'all'} "
            f"{test.holdout_from}..{test.holdout_to}: actual {e.actual:.0f}, "
            f"forecast {e.forecast:.0f}, MAPE {e.mape:.1%}, WAPE {e.wape:.1%}"
        )
    return history, run


def flat_pairs(series: dict[datetime, float], first_day: date) -> list[tuple[float, float]]:
    """(forecast, actual) of the held-out hours under a flat forecast: the training weeks'
    mean offered per hour, the same for every hour of the day and week."""
    training_days = (HOLDOUT_FROM - first_day).days
    trained = sum(v for hour, v in series.items() if hour.date() < HOLDOUT_FROM)
    flat = trained / (training_days * 24)
    held_out = [HOLDOUT_FROM + timedelta(days=d) for d in range(7 * HOLDOUT_WEEKS)]
    return [
        (flat, value)
        for day in held_out
        for hour, value in ((h, series.get(datetime.combine(day, time(h)), 0.0)) for h in range(24))
    ]


def test_backtest_on_simulated_weeks_beats_a_flat_forecast(simulated):
    history, run = simulated
    tests = {(t.tenant, t.channel): t.errors for t in run.backtests}
    overall = tests.pop((None, None))
    assert len(tests) == 5  # every channel of the one tenant
    assert overall.intervals == 5 * 7 * HOLDOUT_WEEKS * 24
    assert overall.actual == pytest.approx(sum(e.actual for e in tests.values()))
    flat = errors(
        pair
        for key, series in history.series.items()
        for pair in flat_pairs(series, history.first_day[key])
    )
    print(f"flat forecast: MAPE {flat.mape:.1%}, WAPE {flat.wape:.1%}")
    assert overall.wape < 0.8 * flat.wape
    # voice has the most contacts an hour, so the least noise
    assert tests[(run.rows[0].tenant, "voice")].wape < 0.5


def test_the_simulated_weekly_and_daily_shape_is_forecast(simulated):
    _, run = simulated
    voice = {row.hour: row.offered for row in run.rows if row.channel == "voice"}
    monday = LAST_DAY + timedelta(days=1)
    sunday = monday + timedelta(days=6)

    def day_total(day):
        return sum(value for hour, value in voice.items() if hour.date() == day)

    assert day_total(monday) > 1.5 * day_total(sunday) > 0
    # closed at night (the centre opens 06:00-22:00 UTC)
    assert all(value == 0.0 for hour, value in voice.items() if not 6 <= hour.hour < 22)
