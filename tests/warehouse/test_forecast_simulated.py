"""The forecast backtest on simulated weeks: five weeks of a small simulated centre (no broker:
its contact facts go straight into the intermediate layer, as in test_kpi_ground_truth), the
last two held out and forecast from the three before. The simulator's arrivals follow a weekly
profile (pipelines/simulator/catalog.py, DAY_OF_WEEK_FACTOR: Sunday at 0.35 of a Monday) and
are closed 22:00-06:00 UTC, which the forecast must carry over."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pipelines.simulator.config import FaultRates, SimulationConfig
from pipelines.simulator.run import Simulation
from tests.warehouse.kpi_fixtures import DAY, refreshed, settings
from warehouse.forecast import forecast_history, load_history

WEEKS = 5
LAST_DAY = DAY + timedelta(days=7 * WEEKS - 1)  # DAY is a Monday: the last day is a Sunday


@pytest.fixture(scope="module")
def run():
    knobs = settings()
    config = SimulationConfig(
        seed=11,
        days=7 * WEEKS,
        agents=6,
        tenants=1,
        load=0.5,
        start=DAY,
        outages=False,
        faults=FaultRates.none(),
    )
    simulation = Simulation(config, knobs)
    con = refreshed(list(simulation.contact_facts()), date_to=LAST_DAY, knobs=knobs)
    history = load_history(con, knobs, LAST_DAY)
    forecast = forecast_history(history, weeks=1, holdout_weeks=2)
    for test in forecast.backtests:
        e = test.errors
        print(
            f"backtest {test.tenant or 'all'} {test.channel or 'all'} "
            f"{test.holdout_from}..{test.holdout_to}: actual {e.actual:.0f}, "
            f"forecast {e.forecast:.0f}, MAPE {e.mape:.1%}, WAPE {e.wape:.1%}"
        )
    return forecast


def test_backtest_on_simulated_weeks_has_a_small_error(run):
    overall = next(t for t in run.backtests if t.tenant is None)
    assert overall.errors.intervals == len(run.backtests[:-1]) * 14 * 24
    assert overall.errors.actual > 0
    # the simulated volumes are stationary Poisson-like arrivals: a seasonal mean is within a
    # few tens of percent over all hours, far from a naive flat forecast
    assert overall.errors.wape < 0.3
    assert overall.errors.mape < 0.6


def test_the_simulated_weekly_and_daily_shape_is_forecast(run):
    voice = {row.hour: row.offered for row in run.rows if row.channel == "voice"}
    monday = LAST_DAY + timedelta(days=1)
    sunday = monday + timedelta(days=6)

    def day_total(day):
        return sum(value for hour, value in voice.items() if hour.date() == day)

    assert day_total(monday) > 2 * day_total(sunday) > 0
    # closed at night (the centre opens 06:00-22:00 UTC; the tenant reports in UTC)
    assert all(value == 0.0 for hour, value in voice.items() if not 6 <= hour.hour < 22)
