"""History at its real dates: a lake of three weeks of January 2021, closed on Sundays and on a
holiday, refreshed through ``omnicx refresh --from 2021-01-01``: the partitions start at the
first day of the lake's events, every check passes, and ``omnicx kpis`` gives each day's hand-
counted offered contacts, none on the closed days."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from dagster import AssetKey, DagsterInstance

from orchestration.checks.asset_checks import CHECKS
from orchestration.checks.suites import SUITES
from orchestration.cli import main
from orchestration.definitions import build_definitions
from orchestration.partitions import first_partition
from schemas.settings import with_overrides
from tests.warehouse.kpi_fixtures import contact, handled_call, settings, write_lake

FIRST = date(2021, 1, 4)  # a Monday
LAST = date(2021, 1, 24)  # a Sunday, three weeks later
HOLIDAY = date(2021, 1, 18)  # a Monday the centre is closed
CLOSED = {date(2021, 1, 10), date(2021, 1, 17), HOLIDAY, LAST}
DAYS = [FIRST + timedelta(days=n) for n in range((LAST - FIRST).days + 1)]


def centre_day(day: date) -> list:
    """A weekday: three calls handled and one abandoned after 30 s; a Saturday: one call."""
    if day in CLOSED:
        return []
    handled = [
        handled_call(f"{day}-{n}", f"{day}T{9 + n:02d}:00:00", customer=f"{day}-{n}")
        for n in range(3 if day.weekday() < 5 else 1)
    ]
    if day.weekday() == 5:
        return handled
    abandoned = contact(f"{day}-a", f"{day}T15:00:00", abandoned=30.0, customer=f"{day}-a")
    return [*handled, abandoned]


def offered_by_hand(day: date) -> int:
    return 0 if day in CLOSED else 4 if day.weekday() < 5 else 1


def omnicx(home: Path, *args: str):
    return CliRunner().invoke(main, ["--home", str(home), *args])


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    home = tmp_path_factory.mktemp("history")
    write_lake(with_overrides(settings(), home=home), [c for day in DAYS for c in centre_day(day)])
    return home, omnicx(home, "refresh", "--from", "2021-01-01", "--to", LAST.isoformat())


def test_the_partitions_start_at_the_first_day_of_the_events_or_the_configured_start(tmp_path):
    knobs = with_overrides(settings(), home=tmp_path)
    write_lake(knobs, centre_day(date(2021, 1, 5)))
    partitions = build_definitions(knobs).resolve_job_def("refresh").partitions_def
    assert first_partition(partitions) == date(2021, 1, 5)
    configured = with_overrides(knobs, orchestration={"partitions_start": "2020-12-01"})
    partitions = build_definitions(configured).resolve_job_def("refresh").partitions_def
    assert first_partition(partitions) == date(2020, 12, 1)


def test_a_refresh_from_before_the_first_day_refreshes_from_it_and_every_check_passes(history):
    home, outcome = history
    assert outcome.exit_code == 0, outcome.output
    assert outcome.stderr.splitlines()[0] == (
        "refreshing from 2021-01-04, the first partition (the first day of the lake's events)"
    )
    checks = [line for line in outcome.stdout.splitlines()[1:] if line.split()[0] in {"ok", "FAIL"}]
    assert checks and all(line.startswith("ok ") for line in checks), outcome.stdout
    with DagsterInstance.local_temp(tempdir=str(home / "dagster")) as instance:
        assert instance.get_materialized_partitions(AssetKey("mart_contact_kpis_hourly")) == {
            day.isoformat() for day in DAYS
        }


def test_the_kpis_of_2021_are_the_hand_counts_and_closed_days_offer_nothing(history):
    home, _ = history
    outcome = omnicx(
        home,
        "kpis",
        "--from",
        FIRST.isoformat(),
        "--to",
        LAST.isoformat(),
        "--by",
        "day",
        "--long",
        "--format",
        "json",
    )
    assert outcome.exit_code == 0, outcome.output
    offered = {r["day"]: r["value"] for r in json.loads(outcome.stdout) if r["kpi"] == "offered.v1"}
    assert {day: offered.get(day.isoformat(), 0) for day in DAYS} == {
        day: offered_by_hand(day) for day in DAYS
    }
    assert sum(offered.values()) == 15 * 4 - 4 + 3  # 14 open weekdays, 3 Saturdays


def test_a_range_before_the_first_day_is_a_one_line_error(history):
    home, _ = history
    outcome = omnicx(home, "refresh", "--from", "2020-12-01", "--to", "2020-12-31")
    assert outcome.exit_code == 1
    assert outcome.output.strip().splitlines()[-1] == (
        "error: nothing to refresh: the partitions start at 2021-01-04 "
        "(the first day of the lake's events)"
    )


def test_omnicx_checks_lists_the_latest_results_and_the_offline_data_docs(history):
    home, _ = history
    outcome = omnicx(home, "checks", "--format", "json")
    assert outcome.exit_code == 0, outcome.output
    listed = json.loads(outcome.stdout)
    results = {r["check"]: r for r in listed["checks"]}
    assert set(results) == {key.name for c in CHECKS for key in c.check_keys}
    assert all(r["passed"] for r in results.values())
    assert {r["days"] for r in results.values()} == {f"{FIRST}..{LAST}"}
    # the closed days that passed; Sunday 24 is after the last event, a day not started
    assert results["events_volume"]["details"]["closed_days"] == [
        "2021-01-10",
        "2021-01-17",
        "2021-01-18",
    ]
    docs = Path(listed["data_docs"])
    assert docs == home.resolve() / "gx" / "data_docs" / "index.html"
    text = omnicx(home, "checks")
    assert text.stdout.splitlines()[-1] == f"Data Docs: {docs}"
    # one page per suite, and no page loads anything from the network
    assert {p.stem for p in (docs.parent / "expectations").glob("*.html")} == {
        suite.name for suite in SUITES
    }
    pages = list(docs.parent.rglob("*.html"))
    assert len(pages) > len(SUITES)
    remote = re.compile(r'(?:src=|<link[^>]*href=)"https?://')
    assert [p for p in pages if remote.search(p.read_text())] == []


def test_the_dagster_instance_of_the_refresh_has_telemetry_off(history):
    home, _ = history
    with DagsterInstance.local_temp(tempdir=str(home / "dagster")) as instance:
        assert instance.telemetry_enabled is False
