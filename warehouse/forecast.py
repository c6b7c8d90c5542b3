"""Volume forecast: offered contacts per tenant, channel and local hour for the next weeks.

The method is a documented workforce-management baseline, not a fitted model (docs/forecast.md
says why): the forecast of an hour is the mean of the same weekday and hour over the last
``season_weeks`` complete weeks of history (weekly seasonality, intraday profile included),
times a trend factor from a least-squares line through the weekly totals of the last
``trend_weeks`` weeks (flat with fewer than ``MIN_TREND_WEEKS``). An hour that had no contacts
in those weeks (a closed hour or day) is forecast 0.

History is a series per tenant x channel: local hour start (the marts' ``hour``, a wall-clock
time in the tenant's reporting zone) -> offered contacts; an hour missing from it had none.
Everything here but ``load_history`` and ``write_forecast`` is a pure function of its
arguments. The backtest holds out the last weeks of the history, forecasts them from the weeks
before and reports MAPE (over hours with contacts) and WAPE (sum of absolute errors over the
sum of actuals).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from schemas.knob_sets import knob_set_id, mart_knobs
from schemas.settings import Settings
from warehouse.arrow_rows import insert_columns

if TYPE_CHECKING:
    import duckdb

SEASON_WEEKS = 4  # weeks averaged per weekday and hour
TREND_WEEKS = 8  # weekly totals the trend line goes through
MIN_TREND_WEEKS = 3  # fewer complete weeks: no trend (a line through two points is noise)
HOLDOUT_WEEKS = 1  # weeks the backtest holds out
HOURS = range(24)
WEEK = 7

Series = Mapping[datetime, float]  # local hour start -> offered contacts


@dataclass(frozen=True)
class Method:
    season_weeks: int = SEASON_WEEKS
    trend_weeks: int = TREND_WEEKS

    def __post_init__(self) -> None:
        if self.season_weeks < 1 or self.trend_weeks < 1:
            raise ValueError("season_weeks and trend_weeks must be at least 1")

    @property
    def name(self) -> str:
        """What made a stored forecast, as recorded in its rows."""
        return (
            f"seasonal_mean_trend(season_weeks={self.season_weeks}, trend_weeks={self.trend_weeks})"
        )


@dataclass(frozen=True)
class Errors:
    intervals: int  # hours compared
    intervals_with_contacts: int  # hours whose actual is > 0 (MAPE's)
    actual: float
    forecast: float
    mape: float | None  # mean of |forecast - actual| / actual over hours with actual > 0
    wape: float | None  # sum |forecast - actual| / sum actual


class NotEnoughHistory(ValueError):
    """Less than one complete week of history before the forecast."""


def complete_weeks(first_day: date, last_day: date) -> int:
    """Complete weeks counted back from ``last_day`` within ``first_day``..``last_day``."""
    return max(0, ((last_day - first_day).days + 1) // WEEK)


def trend_factors(
    series: Series, first_day: date, last_day: date, weeks: int, method: Method = Method()
) -> list[float]:
    """The factor of each of the ``weeks`` weeks after ``last_day``: the trend line's value that
    week over its value at the middle of the weeks the seasonal means average (1 when flat)."""
    available = complete_weeks(first_day, last_day)
    used = min(method.trend_weeks, available)
    if used < MIN_TREND_WEEKS:
        return [1.0] * weeks
    totals = [0.0] * used  # oldest first
    for start, offered in series.items():
        back = (last_day - start.date()).days // WEEK
        if 0 <= back < used:
            totals[used - 1 - back] += offered
    slope, intercept = statistics.linear_regression(range(used), totals)
    season = min(method.season_weeks, available)
    middle = used - 1 - (season - 1) / 2
    base = intercept + slope * middle
    if base <= 0:
        return [1.0] * weeks
    return [max(0.0, (intercept + slope * (used - 1 + h)) / base) for h in range(1, weeks + 1)]


def forecast_series(
    series: Series, first_day: date, last_day: date, weeks: int, method: Method = Method()
) -> dict[datetime, float]:
    """Offered contacts of every local hour of the ``weeks`` weeks after ``last_day``, from the
    history ``series`` of ``first_day``..``last_day`` (both complete days)."""
    available = complete_weeks(first_day, last_day)
    if available < 1:
        raise NotEnoughHistory(
            f"{first_day}..{last_day} holds no complete week (the forecast needs one)"
        )
    season = min(method.season_weeks, available)
    factors = trend_factors(series, first_day, last_day, weeks, method)
    forecast: dict[datetime, float] = {}
    for offset in range(weeks * WEEK):
        day = last_day + timedelta(days=offset + 1)
        # the latest history day on the same weekday, then the weeks before it
        latest = day - timedelta(days=WEEK * -(-(offset + 1) // WEEK))
        same_weekday = [latest - timedelta(days=WEEK * j) for j in range(season)]
        for hour in HOURS:
            past = [series.get(datetime.combine(d, time(hour)), 0.0) for d in same_weekday]
            forecast[datetime.combine(day, time(hour))] = (
                statistics.fmean(past) * factors[offset // WEEK]
            )
    return forecast


def errors(pairs: Iterable[tuple[float, float]]) -> Errors:
    """MAPE and WAPE of (forecast, actual) pairs."""
    pairs = list(pairs)
    actual = sum(a for _, a in pairs)
    absolute = sum(abs(f - a) for f, a in pairs)
    with_contacts = [abs(f - a) / a for f, a in pairs if a > 0]
    return Errors(
        intervals=len(pairs),
        intervals_with_contacts=len(with_contacts),
        actual=actual,
        forecast=sum(f for f, _ in pairs),
        mape=statistics.fmean(with_contacts) if with_contacts else None,
        wape=absolute / actual if actual > 0 else None,
    )


def backtest_pairs(
    series: Series,
    first_day: date,
    last_day: date,
    holdout_weeks: int = HOLDOUT_WEEKS,
    method: Method = Method(),
) -> list[tuple[float, float]]:
    """(forecast, actual) of every hour of the last ``holdout_weeks`` weeks of the history,
    forecast from the weeks before them."""
    train_last = last_day - timedelta(days=WEEK * holdout_weeks)
    predicted = forecast_series(series, first_day, train_last, holdout_weeks, method)
    return [(value, series.get(hour, 0.0)) for hour, value in sorted(predicted.items())]


# --- the warehouse side: history from the marts, forecasts and backtests into tables ---

Key = tuple[str, str]  # tenant, channel


@dataclass(frozen=True)
class History:
    series: dict[Key, dict[datetime, float]]
    first_day: dict[Key, date]  # each series' first day with contacts
    last_day: date  # the last complete day, the same for all


def load_history(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    last_day: date,
    tenant: str | None = None,
) -> History:
    """Offered contacts per tenant x channel x local hour of ``mart_contact_kpis_hourly`` up to
    ``last_day``, under the knob set of ``settings`` (short abandons are not offered; the
    threshold is a knob). The hour daylight saving time repeats is one hour here, with the
    contacts of both."""
    rows = con.execute(
        """
        select tenant, channel, hour, sum(offered)::double
        from mart_contact_kpis_hourly
        where knob_set = $knob_set and day <= $last_day
            and ($tenant is null or tenant = $tenant)
        group by all
        order by all
        """,
        {"knob_set": knob_set_id(mart_knobs(settings)), "last_day": last_day, "tenant": tenant},
    ).fetchall()
    series: dict[Key, dict[datetime, float]] = {}
    for name, channel, hour, offered in rows:
        series.setdefault((name, channel), {})[hour] = offered
    first_day = {key: min(values).date() for key, values in series.items()}
    return History(series, first_day, last_day)


@dataclass(frozen=True)
class ForecastRow:
    tenant: str
    channel: str
    hour: datetime  # local hour start in the tenant's reporting zone
    offered: float


@dataclass(frozen=True)
class Backtest:
    tenant: str | None  # None: every tenant x channel of the run pooled
    channel: str | None
    holdout_from: date
    holdout_to: date
    errors: Errors


@dataclass(frozen=True)
class ForecastRun:
    rows: list[ForecastRow]
    backtests: list[Backtest]
    skipped: dict[Key, str]  # series too short to forecast or backtest, and why
    method: Method
    history_to: date
    weeks: int
    holdout_weeks: int


def forecast_history(
    history: History, weeks: int, holdout_weeks: int = HOLDOUT_WEEKS, method: Method = Method()
) -> ForecastRun:
    """Forecast every series of ``history`` ``weeks`` weeks ahead and backtest it on its last
    ``holdout_weeks`` weeks (a series without a complete week before them is forecast, not
    backtested); the overall backtest pools the hours of every series backtested."""
    rows: list[ForecastRow] = []
    backtests: list[Backtest] = []
    pooled: list[tuple[float, float]] = []
    skipped: dict[Key, str] = {}
    last = history.last_day
    holdout_from = last - timedelta(days=WEEK * holdout_weeks - 1)
    for key, series in sorted(history.series.items()):
        first = history.first_day[key]
        try:
            predicted = forecast_series(series, first, last, weeks, method)
        except NotEnoughHistory as exc:
            skipped[key] = str(exc)
            continue
        rows += [ForecastRow(*key, hour, value) for hour, value in sorted(predicted.items())]
        try:
            pairs = backtest_pairs(series, first, last, holdout_weeks, method)
        except NotEnoughHistory as exc:
            skipped[key] = f"not backtested: {exc}"
            continue
        pooled += pairs
        backtests.append(Backtest(*key, holdout_from, last, errors(pairs)))
    if pooled:
        backtests.append(Backtest(None, None, holdout_from, last, errors(pooled)))
    return ForecastRun(rows, backtests, skipped, method, last, weeks, holdout_weeks)


def forecast_offered(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    last_day: date,
    weeks: int,
    tenant: str | None = None,
    method: Method = Method(),
) -> list[ForecastRow]:
    """Forecast offered contacts per tenant, channel and local hour for the ``weeks`` weeks
    after ``last_day`` (the last complete day of history), from the marts: what a staffing
    requirement for those weeks takes as its offered contacts."""
    history = load_history(con, settings, last_day, tenant)
    return forecast_history(history, weeks, HOLDOUT_WEEKS, method).rows


def write_forecast(
    con: duckdb.DuckDBPyConnection, run: ForecastRun, knob_set: str, made_at: datetime
) -> None:
    """Replace the stored forecast and backtest of the tenants of ``run`` (other tenants' rows
    stay) in ``mart_forecast`` and ``mart_forecast_backtest``, in one transaction."""
    create_forecast_tables(con)
    tenants = sorted({row.tenant for row in run.rows} | {key[0] for key in run.skipped})
    common = {"method": run.method.name, "knob_set": knob_set, "made_at": made_at}
    forecasts = {
        "tenant": [row.tenant for row in run.rows],
        "channel": [row.channel for row in run.rows],
        "day": [row.hour.date() for row in run.rows],
        "hour": [row.hour for row in run.rows],
        "weekday": [row.hour.strftime("%A") for row in run.rows],
        "offered": [row.offered for row in run.rows],
        "history_to": [run.history_to] * len(run.rows),
        **{name: [value] * len(run.rows) for name, value in common.items()},
    }
    tests = run.backtests
    backtests = {
        "tenant": [test.tenant for test in tests],
        "channel": [test.channel for test in tests],
        "holdout_from": [test.holdout_from for test in tests],
        "holdout_to": [test.holdout_to for test in tests],
        "intervals": [test.errors.intervals for test in tests],
        "intervals_with_contacts": [test.errors.intervals_with_contacts for test in tests],
        "actual_offered": [test.errors.actual for test in tests],
        "forecast_offered": [test.errors.forecast for test in tests],
        "mape": [test.errors.mape for test in tests],
        "wape": [test.errors.wape for test in tests],
        **{name: [value] * len(tests) for name, value in common.items()},
    }
    con.execute("begin transaction")
    try:
        con.execute("delete from mart_forecast where tenant in (select unnest($t))", {"t": tenants})
        con.execute(
            "delete from mart_forecast_backtest where tenant in (select unnest($t)) "
            "or tenant is null",
            {"t": tenants},
        )
        insert_columns(con, "mart_forecast", forecasts)
        insert_columns(con, "mart_forecast_backtest", backtests)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def create_forecast_tables(con: duckdb.DuckDBPyConnection) -> None:
    """``mart_forecast`` and ``mart_forecast_backtest``, empty, unless they exist."""
    con.execute(
        """
        create table if not exists mart_forecast (
            tenant varchar, channel varchar, day date, hour timestamp, weekday varchar,
            offered double, method varchar, knob_set varchar, history_to date,
            made_at timestamptz
        )
        """
    )
    con.execute(
        """
        create table if not exists mart_forecast_backtest (
            tenant varchar, channel varchar, holdout_from date, holdout_to date,
            intervals integer, intervals_with_contacts integer, actual_offered double,
            forecast_offered double, mape double, wape double, method varchar,
            knob_set varchar, made_at timestamptz
        )
        """
    )
