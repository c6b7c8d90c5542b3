"""Closed days in the simulator (docs/simulator.md, Closed days): no contact, no agent and no
event at all on them, the ground truth agrees, customers come back on the next open day, and
``omnicx simulate --closed`` takes weekdays and dates or refuses a bad value in one line."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from orchestration.cli import main
from pipelines.simulator.clock import DAY, HOUR, SECOND, epoch_ms
from pipelines.simulator.config import ConfigError, SimulationConfig, parse_closed
from pipelines.simulator.engine import Engine
from pipelines.simulator.run import Simulation
from schemas.times import parse_rfc3339
from tests.pii import keyed_settings
from tests.pipelines.conftest import SMALL, Run, simulate_to

MONDAY = date(2021, 1, 4)
WEEK = [MONDAY + timedelta(days=n) for n in range(8)]  # Monday to the next Monday
SUNDAY, HOLIDAY = date(2021, 1, 10), date(2021, 1, 6)  # a closed Sunday, a closed Wednesday
# Outbound agents (from 6 a tenant) dial on weekdays: the holiday must stop them too.
CLOSED_WEEK = SimulationConfig(
    seed=5,
    agents=12,
    tenants=2,
    days=len(WEEK),
    start=MONDAY,
    load=0.3,
    closed_weekdays=(6,),
    closed_dates=(HOLIDAY,),
)


@pytest.fixture(scope="module")
def closed_week(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return simulate_to(tmp_path_factory.mktemp("closed-week"), CLOSED_WEEK)


def _events(run: Run) -> list[dict]:
    """The valid events of the run, duplicates included (its malformed copies left out)."""
    malformed = {m["index"] for m in run.truth["faults"]["malformed_messages"]}
    return [orjson.loads(line) for n, line in enumerate(run.lines) if n not in malformed]


def _utc_day(event: dict) -> str:
    """The UTC day of an event (a mail gateway stamps +01:00)."""
    return datetime.fromtimestamp(parse_rfc3339(event["occurred_at"]), UTC).date().isoformat()


def test_a_closed_day_has_no_event_at_all(closed_week: Run) -> None:
    events = _events(closed_week)
    days = Counter(_utc_day(e) for e in events)
    open_days = [d for d in WEEK if d not in (SUNDAY, HOLIDAY)]
    assert days[SUNDAY.isoformat()] == 0 and days[HOLIDAY.isoformat()] == 0
    assert all(days[d.isoformat()] > 100 for d in open_days)
    agent_days = {_utc_day(e) for e in events if e["event_type"] == "agent.state_changed"}
    dial_days = {_utc_day(e) for e in events if e["event_type"] == "outbound.attempted"}
    survey_days = {_utc_day(e) for e in events if e["event_type"] == "survey.completed"}
    assert agent_days == {d.isoformat() for d in open_days}
    # weekdays only, and not the holiday
    assert dial_days == {d.isoformat() for d in open_days if d.weekday() < 5}
    assert survey_days <= {d.isoformat() for d in open_days} and survey_days


def test_the_ground_truth_has_no_contact_on_a_closed_day(closed_week: Run) -> None:
    started = Counter(c["started_at"][:10] for c in closed_week.contacts)
    open_days = {d.isoformat() for d in WEEK if d not in (SUNDAY, HOLIDAY)}
    assert set(started) == open_days
    by_day = closed_week.truth["kpis"]["by_day"]
    assert set(by_day) == open_days
    assert (
        sum(day["offered.v1"] for day in by_day.values())
        == (closed_week.truth["kpis"]["overall"]["offered.v1"])
    )
    assert closed_week.truth["knobs"]["closed_weekdays"] == ["sun"]
    assert closed_week.truth["knobs"]["closed_dates"] == [HOLIDAY.isoformat()]
    # the weekly outage falls on Mondays: both still happen
    assert [o["start"][:10] for o in closed_week.truth["outages"]] == ["2021-01-04", "2021-01-11"]


def test_customers_come_back_on_the_next_open_day() -> None:
    """A return due on the closed Sunday, or after Saturday's closing, arrives on Monday
    morning (06:00-09:00, as after any night); one due on the holiday, on Thursday."""
    engine = Engine(CLOSED_WEEK, keyed_settings())
    sunday, saturday, holiday = epoch_ms(SUNDAY), epoch_ms(SUNDAY) - DAY, epoch_ms(HOLIDAY)
    assert engine._open_time(saturday + 10 * HOUR) == saturday + 10 * HOUR  # open: unchanged
    for due in (saturday + 23 * HOUR, sunday + 3 * HOUR, sunday + 12 * HOUR):
        assert sunday + DAY + 6 * HOUR <= engine._open_time(due) < sunday + DAY + 9 * HOUR
    assert holiday + DAY + 6 * HOUR <= engine._open_time(holiday + 12 * HOUR)
    assert engine._open_time(holiday + 12 * HOUR) < holiday + DAY + 9 * HOUR


def test_no_survey_answer_is_collected_on_a_closed_day() -> None:
    """A contact wrapped up just before midnight on Saturday: its survey answer would arrive on
    the closed Sunday, so none is collected; wrapped up on Saturday morning, some are."""
    simulation = Simulation(CLOSED_WEEK, keyed_settings())
    for _ in simulation.messages():
        pass
    engine = simulation.engine
    c = next(c for c in engine.contacts if c.channel == "voice" and c.answered is not None)
    saturday = epoch_ms(SUNDAY) - DAY
    answered = []
    for wrapped in (saturday + 10 * HOUR, saturday + 24 * HOUR - 61 * SECOND):
        surveys = 0
        for _ in range(200):
            c.wrapped, c.nps, c.csat, c.ces = wrapped, None, None, None
            engine._survey(c)
            surveys += (c.nps, c.csat, c.ces) != (None, None, None)
        answered.append(surveys)
    morning, late = answered
    assert morning > 0 and late == 0


def test_closed_days_outside_the_run_change_no_event(small_run: Run) -> None:
    """Closing days the run does not cover draws nothing more: the same messages as with no
    closed day (the calendar is recorded in the knobs only)."""
    closed_elsewhere = replace(SMALL, closed_weekdays=(6,), closed_dates=(date(2025, 12, 25),))
    assert list(Simulation(closed_elsewhere, keyed_settings()).messages()) == small_run.lines
    assert "closed_weekdays" not in small_run.truth["knobs"]
    assert closed_elsewhere.to_dict()["closed_weekdays"] == ["sun"]


def test_closed_days_are_parsed_from_weekdays_and_dates() -> None:
    assert parse_closed("sun") == ((6,), ())
    assert parse_closed("Sat, sunday,2021-12-25") == ((5, 6), (date(2021, 12, 25),))
    assert parse_closed("") == ((), ())
    with pytest.raises(ConfigError, match="'funday' is neither a weekday"):
        parse_closed("sun,funday")
    with pytest.raises(ConfigError, match="every day of the run is closed"):
        SimulationConfig(start=MONDAY, days=2, closed_dates=(MONDAY, MONDAY + timedelta(1)))


def test_the_cli_closes_the_days_it_is_given(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["simulate", "--seed", "3", "--agents", "3", "--tenants", "1", "--load", "0.1"]
    args += ["--start", "2021-01-09", "--days", "3", "--closed", "sun", "--to", "file"]
    result = CliRunner().invoke(main, [*args, "--out", str(out), "--no-faults"])
    assert result.exit_code == 0, result.output
    run = Run(out)
    assert run.truth["knobs"]["closed_weekdays"] == ["sun"]
    assert {c["started_at"][:10] for c in run.contacts} == {"2021-01-09", "2021-01-11"}


@pytest.mark.parametrize(
    ("closed", "says"),
    [
        ("funday", "'funday' is neither a weekday (mon, tue, wed, thu, fri, sat, sun)"),
        ("sun,2021-02-30", "'2021-02-30' is neither a weekday"),
        ("mon,tue,wed,thu,fri,sat,sun", "every day of the run is closed"),
    ],
)
def test_a_bad_closed_value_exits_2_with_one_line(closed: str, says: str) -> None:
    result = CliRunner().invoke(main, ["simulate", "--closed", closed, "--to", "kafka"])
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ") and says in line and line.endswith("--help`)")
