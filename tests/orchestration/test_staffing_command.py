"""`omnicx staffing` on the classic reference hour: 200 voice calls in an hour (100 per half
hour) of 180 s handle time, 80% in 20 s, need 14 agents; 10 were logged in, so the hour is
under-staffed, and the next hour's 20 calls (1 Erlang) need 3 of those 10 (over-staffed)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from orchestration.cli import main
from tests.warehouse.kpi_fixtures import DAY, build_int_layer, handled_call, settings, span
from warehouse.kpi_marts import refresh_marts


def calls(prefix: str, hour: int, count: int) -> list:
    """``count`` voice calls spread over ``hour``, each answered at once: 150 s talk + 30 s ACW."""
    spacing = 3600 // count
    return [
        handled_call(
            f"{prefix}{n}",
            f"2026-01-05T{hour:02d}:{n * spacing // 60:02d}:{n * spacing % 60:02d}",
            answered=0.0,
            ended=150.0,
            wrapped=180.0,
            customer=f"c{prefix}{n}",
        )
        for n in range(count)
    ]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    agents = [
        span(f"agent-{n}", "available", "2026-01-05T10:00:00", "2026-01-05T12:00:00")
        for n in range(10)
    ]
    build_int_layer(con, [*calls("a", 10, 200), *calls("b", 11, 20)], spans=agents)
    refresh_marts(con, DAY, DAY, settings())
    con.close()
    return tmp_path


def omnicx_staffing(home: Path, *args: str):
    config = home / "omnicx.toml"
    config.write_text("[staffing]\nshrinkage = 0.3\n")
    command = ["--home", str(home), "--config", str(config), "staffing", "--from", str(DAY)]
    # a terminal wide enough for the table's 15 columns on one line each
    return CliRunner(env={"COLUMNS": "200"}).invoke(main, [*command, *args], prog_name="omnicx")


def test_json_gives_the_reference_figures_and_the_under_staffed_hour(home):
    outcome = omnicx_staffing(home, "--format", "json")
    assert (outcome.exit_code, outcome.stderr) == (0, "")
    rows = {(r["hour"][11:13], r["channel"]): r for r in json.loads(outcome.stdout)}
    voice = rows[("10", "voice")]
    assert (voice["offered"], voice["aht"], voice["traffic"]) == (200, 180.0, 10.0)
    assert (voice["required"], voice["positions"]) == (14, 20)
    assert round(voice["service_level"], 4) == 0.8884
    assert round(voice["p_wait"], 4) == 0.1741
    assert round(voice["asa"], 2) == 7.84
    assert voice["required_a"] is None  # no abandon: no patience to measure
    assert rows[("10", "all")]["logged_in"] == 10.0
    assert rows[("10", "all")]["status"] == "under"
    assert (rows[("11", "all")]["required"], rows[("11", "all")]["status"]) == (3, "over")


def test_table_shows_people_units_and_the_status(home):
    outcome = omnicx_staffing(home, "--tenant", "acme")
    assert outcome.exit_code == 0, outcome.output
    assert "acme 2026-01-05" in outcome.stdout
    (voice,) = [line for line in outcome.stdout.splitlines() if "10:00" in line and "voice" in line]
    for shown in ("200", "3:00", "10.0", "80.0% in 0:20", "14", "88.8%", "0:08", "17.4%", "71.4%"):
        assert shown in voice
    assert "1 under-staffed hour(s)" in outcome.stdout


def test_no_data_is_an_error(home):
    outcome = omnicx_staffing(home, "--tenant", "nobody")
    assert outcome.exit_code == 1
    assert "hold no contacts" in outcome.output


def test_forecast_weeks_need_a_week_of_history_and_no_from(home):
    config = home / "omnicx.toml"
    config.write_text("[staffing]\nshrinkage = 0.3\n")
    base = ["--home", str(home), "--config", str(config), "staffing", "--forecast", "1"]
    runner = CliRunner(env={"COLUMNS": "200"})
    one_day = runner.invoke(main, base, prog_name="omnicx")
    assert one_day.exit_code == 1
    assert "no tenant x channel has a complete week of history to 2026-01-05" in one_day.output
    both = runner.invoke(main, [*base, "--from", str(DAY)], prog_name="omnicx")
    assert both.exit_code == 2
    assert "no --from/--to" in both.output


def test_half_hour_intervals_size_each_half_of_the_reference_hour(home):
    outcome = omnicx_staffing(home, "--interval", "30", "--format", "json")
    assert (outcome.exit_code, outcome.stderr) == (0, "")
    totals = {r["hour"][11:16]: r for r in json.loads(outcome.stdout) if r["channel"] == "all"}
    # 100 calls of 180 s per half hour: the reference's 10 Erlangs, 14 agents, in each half
    assert {hour: (r["offered"], r["required"], r["status"]) for hour, r in totals.items()} == {
        "10:00": (100, 14, "under"),
        "10:30": (100, 14, "under"),
        "11:00": (10, 3, "over"),
        "11:30": (10, 3, "over"),
    }
    assert totals["10:30"]["logged_in"] == 10.0
