"""A year of call-log CSV, closed on Saturdays and Sundays, imported and refreshed with every
check passing (issue 14, Done when).

The CSV is imported with ``omnicx import csv --to file``; its events go through the stream's own
stages and are landed by the sink's writer (``tests.orchestration.offline_stream``: no broker,
the real-broker import tests cover Kafka); the warehouse is built with the marts of the whole
year, and every check of the refresh runs over the year as one Dagster run over it would run
it: each expectation suite on the rows of ``2021-01-04..2022-01-02`` and the journey
reconciliation (``tests.orchestration.year_checks``: a Dagster run over 365 partitions takes
about 18 minutes on the 2-core machine, docs/orchestration.md,
benchmarks/bench_history_refresh.py); the checks are the same queries whatever the range
(``orchestration.checks.asset_checks``), and ``test_import_end_to_end.py`` and
``test_dagster_history.py`` run them through Dagster on two and three weeks with closed days.
"""

from __future__ import annotations

import csv
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from orchestration.cli import main
from schemas.settings import with_overrides
from schemas.times import parse_rfc3339
from tests.orchestration.offline_stream import stream_to_lake
from tests.orchestration.year_checks import assert_every_check_passes, land_year
from warehouse.build import build_warehouse, connect_read_only
from warehouse.kpi_checks import journey_mismatches
from warehouse.kpi_marts import refresh_marts

MAPPING = Path(__file__).parents[2] / "docs" / "mappings" / "call-log.toml"
FIRST = date(2021, 1, 4)  # a Monday
LAST = date(2022, 1, 2)  # a Sunday: 52 weeks
DAYS = [FIRST + timedelta(days=n) for n in range((LAST - FIRST).days + 1)]
WEEKEND = {day for day in DAYS if day.weekday() >= 5}
CALLS_A_WEEKDAY = (5, 4, 4, 4, 3)  # Monday is the busiest
CUSTOMERS = 300  # callers come back: journeys of several contacts


def write_year(path: Path) -> Counter[date]:
    """The call log of a year, as an ACD exports it; the calls of each day."""
    calls: Counter[date] = Counter()
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["call_id", "start_time", "queue", "agent", "answered", "wait_seconds",
                         "talk_seconds", "hold_seconds", "acw_seconds", "resolved", "csat",
                         "nps", "customer_id", "channel"])  # fmt: skip
        n = 0
        for day in DAYS:
            if day in WEEKEND:
                continue
            for i in range(CALLS_A_WEEKDAY[day.weekday()]):
                n += 1
                calls[day] += 1
                answered = n % 7 != 0
                survey = answered and n % 4 == 0
                writer.writerow([
                    f"Y{n:05d}", f"{day}T{9 + 2 * i:02d}:{n % 60:02d}:00Z",
                    "care" if n % 3 else "sales", f"agent-{n % 6}" if answered else "",
                    "yes" if answered else "no", str(5 + n % 40),
                    str(60 + n % 500) if answered else "", str(n % 2 * 20) if answered else "",
                    str(n % 45) if answered else "", ("yes" if n % 5 else "no") if answered else "",
                    str(1 + n % 5) if survey else "", str(n % 11) if survey else "",
                    f"C{n * 7 % CUSTOMERS:04d}", "voice" if n % 5 else "chat",
                ])  # fmt: skip
    return calls


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("year")
    calls = write_year(home / "calls-2021.csv")
    outcome = CliRunner().invoke(
        main,
        ["--home", str(home), "import", "csv", str(home / "calls-2021.csv"),
         "--mapping", str(MAPPING), "--tenant", "crm", "--to", "file", "--out",
         str(home / "staged"), "--no-progress"],
    )  # fmt: skip
    assert outcome.exit_code == 0, outcome.output
    return land_year(home, home / "staged" / "events.jsonl", FIRST, LAST), calls


def test_every_check_passes_over_the_year(year) -> None:
    settings, calls = year
    details = assert_every_check_passes(settings, FIRST, LAST, run_name="year")
    # every weekend but the last, after the newest event: a day not started
    closed = details["events_volume"]["closed_days"]
    assert closed == [day.isoformat() for day in sorted(WEEKEND) if day < max(calls)]


def test_the_year_reports_at_its_real_dates(year) -> None:
    settings, calls = year
    assert sum(calls.values()) == 52 * 20
    with connect_read_only(settings) as con:
        offered = dict(
            con.execute(
                "select day, sum(offered) from mart_contact_kpis_hourly group by day"
            ).fetchall()
        )
        statuses = dict(
            con.execute("select status, count(*) from int_contacts group by 1").fetchall()
        )
    assert statuses == {"closed": 52 * 20}
    assert {day: offered.get(day, 0) for day in DAYS} == {day: calls[day] for day in DAYS}


def test_history_far_older_than_the_live_contacts_still_gets_its_journeys(year, tmp_path) -> None:
    """A tenant's live contacts already moved the stream's clocks to 2023 when its 2021 export
    is loaded, far beyond the journey retention: each import has its own clock in the customer
    stage as in the ingest stage (streams.journeys, Lanes), so the history gets the journeys
    the batch recomputation gives it, not none."""
    settings, _ = year
    staged = (settings.home / "staged" / "events.jsonl").read_bytes().split(b"\n")
    history = [event for line in staged if line and (event := orjson.loads(line))]
    january = [e for e in history if e["occurred_at"] < "2021-02"]
    first_contact = history[0]["contact_id"]
    live = [
        {
            **event,
            "event_id": f"live-{event['event_id']}",
            "contact_id": f"live-{first_contact}",
            "occurred_at": event["occurred_at"].replace("2021-01-04", "2023-01-02"),
            "attributes": {},  # a live producer's event, no import's
        }
        for event in history
        if event["contact_id"] == first_contact
    ]
    home = with_overrides(settings, home=tmp_path)
    # in batches of 100 messages, as a worker takes them, so that most of January reaches the
    # customer stage after the live contact moved its clock
    stream_to_lake(home, [*live, *january], parse_rfc3339("2023-01-03T06:00:00Z"), batch=100)
    last = date(2021, 1, 31)
    build_warehouse(home, lambda con: refresh_marts(con, FIRST, last, home))
    with connect_read_only(home) as con:
        compared, mismatches = journey_mismatches(con, FIRST, last)
    # a journey the stream lacks is a mismatch too (its stream side is empty)
    assert mismatches == [] and compared > 0
