"""`omnicx kpis` reads the knob set of the current settings, or the one --knobs names, and says
so in one line when the marts hold the days only under other knobs."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from orchestration.cli import main
from tests.warehouse.kpi_fixtures import DAY, NEXT_DAY, build_int_layer, handled_call, settings
from tests.warehouse.test_kpi_knob_sets import AT_20, AT_60, answer_waits, set_of
from warehouse.kpi_marts import refresh_marts


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A home whose warehouse holds 2026-01-05 under service level 20 s and 60 s."""
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    build_int_layer(con, answer_waits())
    for knobs in (AT_20, AT_60):
        refresh_marts(con, DAY, DAY, knobs)
    con.close()
    return tmp_path


def omnicx_kpis(home: Path, voice_seconds: float, *args: str):
    config = home / "omnicx.toml"
    config.write_text(f"[kpis]\nservice_level_voice_seconds = {voice_seconds}\n")
    command = ["--home", str(home), "--config", str(config), "kpis", "--from", str(DAY), *args]
    return CliRunner().invoke(main, command, prog_name="omnicx")


def service_levels(outcome) -> dict[str, float]:
    assert (outcome.exit_code, outcome.stderr) == (0, "")
    rows = json.loads(outcome.stdout)
    return {r["knob_set"]: r["value"] for r in rows if r["kpi"] == "service_level.v1"}


@pytest.mark.parametrize(("voice_seconds", "expected"), [(20.0, 0.4), (60.0, 0.6)])
def test_by_default_the_current_knobs_are_read(home, voice_seconds, expected):
    outcome = omnicx_kpis(home, voice_seconds, "--long", "--format", "json")
    current = set_of(settings(service_level_voice_seconds=voice_seconds))
    assert service_levels(outcome) == {current: expected}


def test_knobs_chooses_a_stored_set_or_all(home):
    chosen = omnicx_kpis(home, 30.0, "--knobs", set_of(AT_60), "--long", "--format", "json")
    assert service_levels(chosen) == {set_of(AT_60): 0.6}
    every = omnicx_kpis(home, 30.0, "--knobs", "all", "--long", "--format", "json")
    assert service_levels(every) == {set_of(AT_20): 0.4, set_of(AT_60): 0.6}


def test_csv_has_one_row_per_set_with_its_knob_set_column(home):
    outcome = omnicx_kpis(home, 30.0, "--knobs", "all", "--long", "--format", "csv")
    assert outcome.exit_code == 0
    lines = [line for line in outcome.stdout.splitlines() if line.startswith("service_level.v1,")]
    # sets of one KPI and group in the order of their ids
    assert [line.split(",")[1:5] for line in lines] == sorted(
        [["0.4", "2", "5", set_of(AT_20)], ["0.6", "3", "5", set_of(AT_60)]],
        key=lambda fields: fields[-1],
    )


def test_other_knobs_than_the_stored_ones_fail_in_one_line(home):
    outcome = omnicx_kpis(home, 30.0)
    assert outcome.exit_code == 1
    assert outcome.stdout == ""
    # the stored sets in the order of their ids, each with the knob in which it differs
    stored = sorted([(set_of(AT_20), 20), (set_of(AT_60), 60)])
    held = ", ".join(f"{s} (service_level_voice_seconds={t})" for s, t in stored)
    current = set_of(settings(service_level_voice_seconds=30.0))
    assert outcome.stderr.splitlines() == [
        f"error: the marts hold {DAY} for knob sets {held}, not for the current knobs {current} "
        f"(service_level_voice_seconds=30) (run `omnicx refresh --from {DAY} --to {DAY}` to "
        f"compute them, or choose one with --knobs {stored[0][0]}|{stored[1][0]}|all)"
    ]


def test_the_table_says_which_other_sets_hold_the_days(home):
    outcome = omnicx_kpis(home, 20.0)
    assert outcome.exit_code == 0
    assert outcome.stdout.splitlines()[-1] == (
        f"also stored for these days: knob sets {set_of(AT_60)} (see --knobs)"
    )


def test_an_unknown_knob_set_is_a_usage_error(home):
    outcome = omnicx_kpis(home, 20.0, "--knobs", "0123456789ab")
    assert outcome.exit_code == 2
    (line,) = outcome.stderr.splitlines()
    assert line.startswith("error: Invalid value for --knobs: no knob set 0123456789ab")


def test_a_chosen_set_that_lacks_a_day_of_the_range_is_refused(tmp_path):
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    build_int_layer(con, [*answer_waits(), handled_call("n1", "2026-01-06T09:00:00")])
    refresh_marts(con, DAY, NEXT_DAY, AT_20)
    refresh_marts(con, DAY, DAY, AT_60)  # the second day only under 20 s
    con.close()
    outcome = omnicx_kpis(tmp_path, 20.0, "--to", str(NEXT_DAY), "--knobs", set_of(AT_60))
    assert outcome.exit_code == 1
    assert outcome.stderr.splitlines() == [
        f"error: the marts hold {NEXT_DAY} for knob sets {set_of(AT_20)} "
        f"(service_level_voice_seconds=20), not for knob set {set_of(AT_60)} "
        f"(choose one with --knobs {set_of(AT_20)}|all)"
    ]
    # the current knobs (20 s) hold both days: 2 + 1 answered within 20 s, of 5 + 1
    both_days = omnicx_kpis(tmp_path, 20.0, "--to", str(NEXT_DAY), "--long", "--format", "json")
    assert service_levels(both_days) == {set_of(AT_20): 0.5}
