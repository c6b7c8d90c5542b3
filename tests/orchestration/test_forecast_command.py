"""`omnicx forecast` prints the forecast per tenant, channel and weekday with its backtest error,
and stores both in the warehouse (mart_forecast, mart_forecast_backtest)."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from orchestration.cli import main
from schemas.settings import load_settings
from warehouse.kpi_marts import knob_set_id, mart_knobs

MONDAY = date(2026, 1, 5)
LAST_DAY = MONDAY + timedelta(days=27)  # four weeks, Monday to Sunday


def offered(day: date, hour: int) -> int:
    """10 an hour 09:00-17:00 on weekdays, 2 on Sundays, closed on Saturdays and at night."""
    if not 9 <= hour < 17:
        return 0
    return {5: 0, 6: 2}.get(day.weekday(), 10)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A warehouse whose hourly mart holds four weeks of voice for one tenant, under the knob
    set of the settings the command loads."""
    knob_set = knob_set_id(mart_knobs(load_settings()))
    rows = [
        (day, datetime.combine(day, time(hour)), "acme", "voice", knob_set, offered(day, hour))
        for day in (MONDAY + timedelta(days=n) for n in range(28))
        for hour in range(24)
        if offered(day, hour)
    ]
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        con.execute(
            "create table mart_contact_kpis_hourly (day date, hour timestamp, tenant varchar, "
            "channel varchar, knob_set varchar, offered bigint)"
        )
        con.executemany("insert into mart_contact_kpis_hourly values (?, ?, ?, ?, ?, ?)", rows)
    return tmp_path


def omnicx_forecast(home: Path, *args: str):
    command = ["--home", str(home), "forecast", "--history-to", str(LAST_DAY), *args]
    return CliRunner().invoke(main, command, prog_name="omnicx")


def test_json_gives_each_weekday_and_the_backtest(home):
    outcome = omnicx_forecast(home, "--weeks", "2", "--format", "json")
    assert outcome.exit_code == 0, outcome.output
    rows = json.loads(outcome.stdout)
    assert [(r["tenant"], r["channel"], r["week_from"]) for r in rows] == [
        ("acme", "voice", str(LAST_DAY + timedelta(days=1))),
        ("acme", "voice", str(LAST_DAY + timedelta(days=8))),
    ]
    first = rows[0]
    assert (first["Mon"], first["Fri"], first["Sat"], first["Sun"]) == (80.0, 80.0, 0.0, 16.0)
    assert first["week"] == 5 * 80.0 + 16.0
    assert (first["backtest_mape"], first["backtest_wape"]) == (0.0, 0.0)


def test_the_table_shows_the_errors_and_the_forecast_is_stored(home):
    outcome = omnicx_forecast(home, "--weeks", "1")
    assert outcome.exit_code == 0, outcome.output
    lines = outcome.stdout.splitlines()
    assert "Backtest: 2026-01-26..2026-02-01 held out" in outcome.stdout

    def cells(line: str) -> list[str]:
        return [cell.strip() for cell in line.split("│")[1:-1]]

    forecast_row = next(cells(line) for line in lines if "2026-02-02" in line)
    assert forecast_row == ["acme", "voice", "2026-02-02", *["80"] * 5, "0", "16", "416"]
    overall = next(cells(line) for line in lines if line.startswith("│ all "))
    assert overall == ["all", "all", "168", "416", "416", "0.0%", "0.0%"]
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        stored = con.execute(
            "select count(*), sum(offered), max(history_to) from mart_forecast "
            "where tenant = 'acme' and channel = 'voice'"
        ).fetchone()
        backtests = con.execute(
            "select tenant, channel, intervals, actual_offered, wape "
            "from mart_forecast_backtest order by all"
        ).fetchall()
    assert stored == (7 * 24, 5 * 80.0 + 16.0, LAST_DAY)
    assert backtests == [
        ("acme", "voice", 7 * 24, 416.0, 0.0),
        (None, None, 7 * 24, 416.0, 0.0),
    ]


def test_too_short_a_history_is_an_error(home):
    outcome = omnicx_forecast(home, "--history-to", str(MONDAY + timedelta(days=5)))
    assert outcome.exit_code != 0
    assert "no tenant x channel has a complete week" in outcome.output
