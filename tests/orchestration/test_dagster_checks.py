"""The expectation suites behind the Dagster asset checks, run with Great Expectations on
hand-made intermediate layers: what they let through and what they stop."""

from __future__ import annotations

import duckdb
import pytest

from orchestration.checks.gx_validation import Validation, validate
from orchestration.checks.suites import SUITES, Suite
from schemas.settings import Settings, with_overrides
from tests.warehouse.kpi_fixtures import (
    DAY,
    NEXT_DAY,
    build_int_layer,
    contact,
    handled_call,
    settings,
    span,
    utc,
)

SUITE = {suite.name: suite for suite in SUITES}


def check(con: duckdb.DuckDBPyConnection, suite: Suite, knobs: Settings) -> Validation:
    frame = con.execute(suite.query, {"date_from": DAY, "date_to": NEXT_DAY}).df()
    return validate(frame, suite.name, suite.expectations(knobs), knobs, run_name="test")


@pytest.fixture
def knobs(tmp_path) -> Settings:
    return with_overrides(settings(), home=tmp_path)


def calls(day: str, times: list[str]) -> list:
    return [handled_call(f"{day}-{t}", f"{day}T{t}:00") for t in times]


def test_a_collapsing_day_fails_but_a_day_in_progress_is_compared_on_the_same_hours(knobs):
    morning = ["08:00", "08:05", "08:10", "08:15", "08:20", "08:25", "08:30", "08:35"]
    afternoon = ["15:00", "15:05", "15:10", "15:15", "15:20", "15:25", "15:30", "15:35"]
    first_day = calls("2026-01-05", morning + afternoon)
    con = duckdb.connect()
    # day 2 is in progress (newest event 08:10): 3 events against 3 by 08:10 the day before
    build_int_layer(con, first_day + calls("2026-01-06", ["08:00", "08:05", "08:10"]))
    result = check(con, SUITE["events_volume"], knobs)
    assert result.success, result.failed
    assert result.rows == 2
    # a whole day 2 with 3 events against 16 the day before has collapsed (3/16 < 0.2)
    build_int_layer(con, first_day + calls("2026-01-06", ["08:00", "08:05", "23:00"]))
    result = check(con, SUITE["events_volume"], knobs)
    assert not result.success
    assert result.failed[0]["column"] == "ratio_to_previous_day"
    assert result.failed[0]["unexpected_examples"] == [pytest.approx(3 / 16)]


def test_the_collapse_ratio_is_a_knob(knobs):
    con = duckdb.connect()
    build_int_layer(
        con,
        calls("2026-01-05", ["08:00", "09:00", "10:00", "11:00"])
        + calls("2026-01-06", ["08:00", "11:00"]),
    )
    assert check(con, SUITE["events_volume"], knobs).success  # 2/4 >= 0.2
    strict = with_overrides(knobs, checks={"min_events_ratio_to_previous_day": 0.6})
    assert not check(con, SUITE["events_volume"], strict).success


@pytest.mark.parametrize(("dead", "passes"), [(1, True), (2, False)])
def test_the_dead_letter_share_is_at_most_the_threshold(knobs, dead, passes):
    con = duckdb.connect()
    con.execute(f"create table stg_events as select date '{DAY}' as landed_day from range(99)")
    con.execute(
        f"create table stg_dead_letters as select date '{DAY}' as landed_day from range({dead})"
    )
    # 1 of 100 messages is exactly the 1 % allowed; 2 of 101 is more
    result = check(con, SUITE["dead_letter_share"], knobs)
    assert result.success is passes
    assert result.rows == 1


def test_an_event_counted_twice_fails_the_unique_event_id(knobs):
    event = {
        "event_id": "e-1",
        "event_type": "contact.started",
        "occurred_at": utc("2026-01-05T10:00:00"),
        "tenant": "acme",
        "channel": "voice",
    }
    con = duckdb.connect()
    build_int_layer(con, [], events=[event, event])
    result = check(con, SUITE["events_valid"], knobs)
    assert not result.success
    assert result.failed == [
        {
            "expectation": "expect_column_values_to_be_unique",
            "column": "event_id",
            "unexpected_count": 2,
            "unexpected_percent": 100.0,
            "unexpected_examples": ["e-1", "e-1"],
        }
    ]


def test_values_outside_the_contract_fail(knobs):
    con = duckdb.connect()
    build_int_layer(
        con,
        [
            handled_call("ok", "2026-01-05T09:00:00"),
            handled_call("odd", "2026-01-05T09:00:00", disposition="solved"),
        ],
        spans=[span("agent-1", "lunch", "2026-01-05T12:00:00", "2026-01-05T13:00:00")],
    )
    contacts = check(con, SUITE["contacts_valid"], knobs)
    assert [(f["column"], f["unexpected_examples"]) for f in contacts.failed] == [
        ("disposition", ["solved"])
    ]
    spans = check(con, SUITE["agent_spans_valid"], knobs)
    assert [(f["column"], f["unexpected_examples"]) for f in spans.failed] == [("state", ["lunch"])]


def test_a_contact_of_another_day_is_not_in_the_run(knobs):
    con = duckdb.connect()
    # a negative talk time three days later belongs to another run's partitions
    build_int_layer(
        con,
        [
            handled_call("today", "2026-01-05T09:00:00"),
            contact("later", "2026-01-08T09:00:00", answered=10.0, ended=5.0),
        ],
    )
    result = check(con, SUITE["contacts_valid"], knobs)
    assert result.success
    assert result.rows == 1
