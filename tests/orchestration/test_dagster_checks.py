"""The expectation suites behind the Dagster asset checks, run with Great Expectations on
hand-made intermediate layers: what they let through and what they stop."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import orjson
import pytest

from orchestration.checks.gx_validation import Validation, validate
from orchestration.checks.suites import SUITES, Suite
from orchestration.resources import ValidationResource
from schemas.settings import Settings, with_overrides
from schemas.times import parse_rfc3339
from streams.dead_letters import dead_letter_records
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
from tests.warehouse.lakes import lake_settings, land
from warehouse.build import build_warehouse, connect_read_only
from warehouse.tables import DEAD_LETTERS, EVENTS

SUITE = {suite.name: suite for suite in SUITES}


def check(
    con: duckdb.DuckDBPyConnection,
    suite: Suite,
    knobs: Settings,
    date_from: date = DAY,
    date_to: date = NEXT_DAY,
) -> Validation:
    frame = con.execute(suite.query, {"date_from": date_from, "date_to": date_to}).df()
    return validate(frame, suite.name, suite.expectations(knobs), knobs, run_name="test")


def volume_details(
    con: duckdb.DuckDBPyConnection, knobs: Settings, date_from: date, date_to: date
) -> dict:
    suite = SUITE["events_volume"]
    frame = con.execute(suite.query, {"date_from": date_from, "date_to": date_to}).df()
    return suite.details(frame, knobs)


@pytest.fixture
def knobs(tmp_path) -> Settings:
    return with_overrides(settings(), home=tmp_path)


def calls(day: str, times: list[str]) -> list:
    return [handled_call(f"{day}-{t}", f"{day}T{t}:00") for t in times]


WEEK_BEFORE = "2025-12-29"  # the Monday before DAY (Monday 5 January 2026)


def test_a_collapsing_day_fails_but_a_day_in_progress_is_compared_on_the_same_hours(knobs):
    morning = ["08:00", "08:05", "08:10", "08:15", "08:20", "08:25", "08:30", "08:35"]
    afternoon = ["15:00", "15:05", "15:10", "15:15", "15:20", "15:25", "15:30", "15:35"]
    last_monday = calls(WEEK_BEFORE, morning + afternoon)
    con = duckdb.connect()
    # DAY is in progress (newest event 08:10): 3 events against 3 by 08:10 a week earlier;
    # NEXT_DAY has not started, so it is not compared
    build_int_layer(con, last_monday + calls(DAY.isoformat(), ["08:00", "08:05", "08:10"]))
    result = check(con, SUITE["events_volume"], knobs)
    assert result.success, result.failed
    assert result.rows == 1
    # a whole DAY with 3 events against 16 the Monday before has collapsed (3/16 < 0.2)
    build_int_layer(
        con,
        last_monday
        + calls(DAY.isoformat(), ["08:00", "08:05", "23:00"])
        + calls(NEXT_DAY.isoformat(), ["08:00"]),
    )
    result = check(con, SUITE["events_volume"], knobs)
    assert not result.success
    assert result.failed[0]["column"] == "ratio_to_same_weekday"
    assert result.failed[0]["unexpected_examples"] == [pytest.approx(3 / 16)]
    assert volume_details(con, knobs, DAY, NEXT_DAY) == {
        "flagged_days": [{"day": "2026-01-05", "events": 3, "same_weekday_events": 16}],
        "closed_days": [],
    }


def test_the_collapse_ratio_is_a_knob(knobs):
    con = duckdb.connect()
    build_int_layer(
        con,
        calls(WEEK_BEFORE, ["08:00", "09:00", "10:00", "11:00"])
        + calls(DAY.isoformat(), ["08:00", "11:00"]),
    )
    assert check(con, SUITE["events_volume"], knobs).success  # 2/4 >= 0.2
    strict = with_overrides(knobs, checks={"min_events_ratio_to_same_weekday": 0.6})
    assert not check(con, SUITE["events_volume"], strict).success


def test_the_suites_of_a_run_validate_in_one_session_as_each_in_its_own(knobs):
    con = duckdb.connect()
    # DAY is over (an event the next day): 1 event against 2 the Monday before, 0.5 < 0.6
    week_before, day = calls(WEEK_BEFORE, ["08:00", "09:00"]), calls(DAY.isoformat(), ["08:00"])
    build_int_layer(con, week_before + day + calls(NEXT_DAY.isoformat(), ["10:00"]))
    strict = with_overrides(knobs, checks={"min_events_ratio_to_same_weekday": 0.6})
    run = ValidationResource()
    session = run.session(strict)
    assert run.session(strict) is session  # one per run (and Great Expectations directory)
    suites = [SUITE["events_volume"], SUITE["contacts_valid"], SUITE["events_valid"]]
    shared = []
    for suite in suites:
        frame = con.execute(suite.query, {"date_from": DAY, "date_to": NEXT_DAY}).df()
        expectations = suite.expectations(strict)
        shared.append(validate(frame, suite.name, expectations, strict, "run", session=session))
    assert shared == [check(con, suite, strict) for suite in suites]
    assert [v.success for v in shared] == [False, True, True]


def test_closed_sundays_and_a_holiday_pass_and_are_listed_and_weekdays_compare_like_with_like(
    knobs,
):
    # Three weeks from Monday 4 January 2021, closed on Sundays, Monday 18 closed (a holiday);
    # Saturdays are quiet (2 calls) and weekdays busy (10): a Saturday after a Friday is no
    # collapse, because each day is compared with the same weekday a week earlier.
    busy = [f"{h:02d}:00" for h in range(8, 18)]
    days = [date(2021, 1, 4).toordinal() + i for i in range(21)]
    contacts = []
    for ordinal in days:
        day = date.fromordinal(ordinal)
        if day.weekday() == 6 or day == date(2021, 1, 18):
            continue
        contacts += calls(day.isoformat(), busy if day.weekday() < 5 else ["10:00", "11:00"])
    con = duckdb.connect()
    build_int_layer(con, contacts)
    result = check(con, SUITE["events_volume"], knobs, date(2021, 1, 4), date(2021, 1, 24))
    assert result.success, result.failed
    # Sunday 24, after the newest event, is not compared yet (a day not started)
    assert result.rows == 20
    assert volume_details(con, knobs, date(2021, 1, 4), date(2021, 1, 24)) == {
        "flagged_days": [],
        "closed_days": ["2021-01-10", "2021-01-17", "2021-01-18"],
    }
    # the Tuesday after the holiday is compared with the Tuesday before it, not with the
    # holiday: a half-empty Tuesday 19 January is flagged
    build_int_layer(
        con,
        [c for c in contacts if not c.contact_id.startswith("2021-01-19")]
        + calls("2021-01-19", ["08:00"]),
    )
    result = check(con, SUITE["events_volume"], knobs, date(2021, 1, 4), date(2021, 1, 24))
    assert not result.success
    assert volume_details(con, knobs, date(2021, 1, 4), date(2021, 1, 24))["flagged_days"] == [
        {"day": "2021-01-19", "events": 1, "same_weekday_events": 10}
    ]


def landed_messages(
    settings: Settings, valid: int, schema_errors: int, not_json: int, landed_ms: int
) -> None:
    """``valid`` events and ``schema_errors`` dead letters of DAY 10:00, and ``not_json`` dead
    letters (no event time to read), all landed at ``landed_ms``, in the lake of ``settings``."""
    at = f"{DAY}T10:00:00.000Z"
    events = [
        {
            "event_id": f"e{i}",
            "event_type": "contact.started",
            "schema_version": 1,
            "occurred_at": at,
            "ts": parse_rfc3339(at),
            "tenant": "acme",
            "customer_ids": [],
            "attributes": {},
        }
        for i in range(valid)
    ]
    bad_event = orjson.dumps({"event_id": "x", "occurred_at": "2026-01-05T11:00:00+01:00"})
    raws = [bad_event] * schema_errors + [b"{oops"] * not_json
    dead_letters = [
        dead_letter_records(
            raw, "bad", "omnicx.raw-events", 0, offset, max_stored_bytes=len(raw)
        ).analyst
        for offset, raw in enumerate(raws)
    ]
    land(settings, EVENTS, events, timestamp_ms=landed_ms)
    land(settings, DEAD_LETTERS, dead_letters, timestamp_ms=landed_ms)


def dead_letter_share(settings: Settings, day: date) -> Validation:
    build_warehouse(settings)
    with connect_read_only(settings) as con:
        frame = con.execute(
            SUITE["dead_letter_share"].query, {"date_from": day, "date_to": day}
        ).df()
    suite = SUITE["dead_letter_share"]
    return validate(frame, suite.name, suite.expectations(settings), settings, run_name="test")


# 2026-11-30 12:00 UTC: a refresh long after the business day, when everything landed.
LATE_LANDING_MS = 1_796_040_000_000


def test_a_refreshed_past_day_with_18_percent_dead_letters_fails(tmp_path) -> None:
    settings = lake_settings(tmp_path)
    landed_messages(settings, valid=82, schema_errors=18, not_json=0, landed_ms=LATE_LANDING_MS)
    result = dead_letter_share(settings, DAY)
    assert not result.success
    assert result.rows == 1
    assert result.failed[0]["unexpected_examples"] == [pytest.approx(0.18)]


def test_unreadable_dead_letters_count_on_the_day_they_were_dead_lettered(tmp_path) -> None:
    settings = lake_settings(tmp_path)
    # 99 good events of DAY; 1 readable dead letter of DAY; 5 unreadable ones dead-lettered
    # on 2026-11-30: DAY is at 1 % (passes), 2026-11-30 is all dead letters (fails).
    landed_messages(settings, valid=99, schema_errors=1, not_json=5, landed_ms=LATE_LANDING_MS)
    assert dead_letter_share(settings, DAY).success
    late = dead_letter_share(settings, date(2026, 11, 30))
    assert not late.success
    assert late.failed[0]["unexpected_examples"] == [1.0]


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
            "expectation": "expect_compound_columns_to_be_unique",
            "column_list": ["event_id", "contact_id", "agent_id"],
            "unexpected_count": 2,
            "unexpected_percent": 100.0,
            "unexpected_examples": [{"event_id": "e-1", "contact_id": None, "agent_id": None}] * 2,
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


def started(event_id: str, contact_id: str, at: str) -> dict:
    return {
        "event_id": event_id,
        "event_type": "contact.started",
        "schema_version": 1,
        "occurred_at": at,
        "ts": parse_rfc3339(at),
        "tenant": "acme",
        "channel": "voice",
        "contact_id": contact_id,
        "customer_ids": [],
        "attributes": {},
    }


def test_an_event_id_reused_by_two_contacts_keeps_both_events_and_is_reported(tmp_path) -> None:
    settings = lake_settings(tmp_path)
    reused = [started("e-1", "c1", "2026-01-05T10:00:00.000Z")]
    reused.append(started("e-1", "c2", "2026-01-05T10:05:00.000Z"))  # another contact, same id
    reused.append(reused[0])  # c1's source retried: a copy, counted once
    land(settings, EVENTS, [*reused, started("e-2", "c3", "2026-01-05T11:00:00.000Z")])
    build_warehouse(settings)
    with connect_read_only(settings) as con:
        events = con.execute(
            "select event_id, contact_id from int_events order by contact_id"
        ).fetchall()
        collisions = con.execute(
            "select event_id, events, contact_ids, tenants, event_types, first_occurred_at, "
            "last_occurred_at from int_event_id_collisions"
        ).fetchall()
        checks = {
            name: check(con, SUITE[name], settings)
            for name in ("events_valid", "event_id_collisions")
        }
    assert events == [("e-1", "c1"), ("e-1", "c2"), ("e-2", "c3")]
    assert collisions == [
        (
            "e-1",
            2,
            ["c1", "c2"],
            ["acme"],
            ["contact.started"],
            datetime(2026, 1, 5, 10, 0),
            datetime(2026, 1, 5, 10, 5),
        )
    ]
    assert checks["events_valid"].success, checks["events_valid"].failed
    assert not checks["event_id_collisions"].success
    assert checks["event_id_collisions"].failed[0]["unexpected_examples"] == [1]


def test_a_day_without_collisions_passes_the_collision_check(tmp_path) -> None:
    settings = lake_settings(tmp_path)
    land(settings, EVENTS, [started("e-1", "c1", "2026-01-05T10:00:00.000Z")])
    land(settings, EVENTS, [started("e-1", "c2", "2026-01-08T10:00:00.000Z")], partition=1)
    build_warehouse(settings)
    with connect_read_only(settings) as con:
        # the collision is on 2026-01-05 and 2026-01-08: the run 2026-01-06..07 is clean
        frame = con.execute(
            SUITE["event_id_collisions"].query,
            {"date_from": date(2026, 1, 6), "date_to": date(2026, 1, 7)},
        ).df()
        assert frame["colliding_event_ids"].tolist() == [0]
        assert not check(con, SUITE["event_id_collisions"], settings).success
