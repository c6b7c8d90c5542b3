"""A simulated year that starts in 2021 and closes on Sundays, refreshed with every check
passing and reported at its real dates (issue 11, Done when).

``omnicx simulate --start 2021-01-04 --days 364 --closed sun`` writes 52 weeks of a tiny centre
(3 agents, one tenant, a low load) with duplicates and disorder; its events go through the
stream's own stages and are landed by the sink's writer (``tests.orchestration.offline_stream``,
no broker), the warehouse is built with the marts of the year, and every check runs over the
year as one Dagster run over it would (``tests.orchestration.year_checks``: a Dagster run over
a year of partitions is far too slow for the suite). Then the marts must give the simulator's
ground truth, every day and over the year, no Sunday may hold a contact, and ``omnicx report``
for a month of 2021 must show that month's days.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from orchestration.cli import main
from orchestration.reports.model import Period
from pipelines.simulator import files
from tests.orchestration.report_fixtures import number, read_hooks
from tests.orchestration.truth_kpis import assert_kpis_equal, kpis_by
from tests.orchestration.year_checks import assert_every_check_passes, land_year
from tests.pii import TEST_PII_KEY
from warehouse.build import connect_read_only

FIRST = date(2021, 1, 4)  # a Monday
LAST = date(2022, 1, 2)  # a Sunday: 52 weeks
DAYS = [FIRST + timedelta(days=n) for n in range((LAST - FIRST).days + 1)]
SUNDAYS = [day for day in DAYS if day.weekday() == 6]
MARCH = Period.ending("month", date(2021, 3, 15))


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory):
    home: Path = tmp_path_factory.mktemp("simulated-year")
    out = home / "run"
    outcome = CliRunner().invoke(
        main,
        ["--home", str(home), "simulate", "--seed", "21", "--start", FIRST.isoformat(),
         "--days", str(len(DAYS)), "--agents", "3", "--tenants", "1", "--load", "0.05",
         "--closed", "sun", "--malformed", "0", "--to", "file", "--out", str(out),
         "--no-progress"],
        env={"OMNICX_PII_KEY": TEST_PII_KEY},
    )  # fmt: skip
    assert outcome.exit_code == 0, outcome.output
    # malformed messages are not JSON objects: the other tests of the stream dead-letter them
    settings = land_year(home, out / files.EVENTS, FIRST, LAST)
    return settings, orjson.loads((out / files.GROUND_TRUTH).read_bytes())


def test_every_check_passes_over_the_simulated_year(year) -> None:
    settings, truth = year
    assert truth["knobs"]["closed_weekdays"] == ["sun"]
    assert truth["faults"]["duplicates"] > 0 and truth["faults"]["out_of_order"] > 0
    details = assert_every_check_passes(settings, FIRST, LAST, run_name="simulated-year")
    # every Sunday but the last, after the newest event (a day not started)
    assert details["events_volume"]["closed_days"] == [d.isoformat() for d in SUNDAYS[:-1]]
    assert details["events_volume"]["flagged_days"] == []


def test_the_kpis_of_the_year_are_the_ground_truth(year) -> None:
    settings, truth = year
    kpis = truth["kpis"]
    open_days = {day.isoformat() for day in DAYS if day.weekday() != 6}
    assert set(kpis["by_day"]) == open_days  # no Sunday in the truth either
    with connect_read_only(settings) as con:
        (overall,) = kpis_by(con, settings, FIRST, LAST, []).values()
        by_day = kpis_by(con, settings, FIRST, LAST, ["day"])
        by_channel = kpis_by(con, settings, FIRST, LAST, ["channel"])
        (events,) = con.execute("select count(*) from int_events").fetchone()
        sunday_contacts = con.execute(
            "select count(*) from int_contacts where dayofweek(started_day) = 0"
        ).fetchone()[0]
    assert events == truth["faults"]["events"]  # duplicates once
    assert sunday_contacts == 0
    assert_kpis_equal(overall, kpis["overall"], "the year")
    assert {day for (day,) in by_day} == open_days
    for day, expected in kpis["by_day"].items():
        assert_kpis_equal(by_day[(day,)], expected, day)
    for channel, expected in kpis["by_channel"].items():
        assert_kpis_equal(by_channel[(channel,)], expected, channel)


def test_a_report_of_march_2021_shows_its_real_days(year, tmp_path: Path) -> None:
    settings, truth = year
    outcome = CliRunner().invoke(
        main,
        ["--home", str(settings.home), "report", "--period", "month", "--day", "2021-03-15",
         "--format", "html", "--out", str(tmp_path)],
        env={"OMNICX_PII_KEY": TEST_PII_KEY},
    )  # fmt: skip
    assert outcome.exit_code == 0, outcome.output
    (path,) = tmp_path.glob("*.html")
    assert path.name == "all-month-2021-03-01_2021-03-31.html"
    hooks = read_hooks(path.read_text())
    assert "All tenants: KPI report, March 2021" in hooks.texts
    offered: dict[str, list[float | None]] = {}
    for cell in hooks.cells["volume_by_channel"]:
        if "data-series" in cell:
            offered.setdefault(cell["data-day"], []).append(number(cell["data-value"]))
    # a row for every day of March 2021; a Sunday has no value (no contact), an open day the
    # truth's offered contacts, 0 on a channel without any
    assert sorted(offered) == [day.isoformat() for day in MARCH.dates()]
    by_day = truth["kpis"]["by_day"]
    for day, values in offered.items():
        if date.fromisoformat(day).weekday() == 6:
            assert values == [None] * len(values), day
        else:
            assert sum(values) == by_day[day]["offered.v1"], day
