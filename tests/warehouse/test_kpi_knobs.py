"""Every mart row says which definitions and knob values produced it; numbers made with other
knobs are never added together; a warehouse without what the marts read is named as such."""

from __future__ import annotations

import json
from datetime import date

import duckdb
import pytest

from tests.warehouse.kpi_fixtures import (
    DAY,
    NEXT_DAY,
    build_int_layer,
    contact,
    handled_call,
    kpis,
    refreshed,
    settings,
    small_centre,
)
from tests.warehouse.outbound_fixtures import with_a_violation
from warehouse.kpi_inputs import missing_inputs
from warehouse.kpi_marts import DEFINITIONS, MARTS, knob_set_id, mart_knobs, refresh_marts
from warehouse.kpis import ALL_KNOB_SETS, KnobSetMissing, format_days, kpi_values


def two_days():
    return [
        handled_call("d1", "2026-01-05T09:00:00", answered=30.0, ended=330.0, wrapped=360.0),
        handled_call("d2", "2026-01-06T09:00:00", answered=30.0, ended=330.0, wrapped=360.0),
    ]


def test_every_mart_row_carries_the_knob_set_that_produced_it():
    knobs = settings(service_level_voice_seconds=45.0)
    centre = with_a_violation(small_centre())
    con = refreshed(centre.pop("contacts"), date_to=NEXT_DAY, knobs=knobs, **centre)
    expected = knob_set_id(mart_knobs(knobs))
    for mart in MARTS:  # small_centre gives every mart rows
        sets = con.execute(f"select distinct knob_set from {mart.name}").fetchall()
        assert sets == [(expected,)], mart.name
    definitions, stored = con.execute(
        "select definitions, knobs from kpi_knob_sets where knob_set = ?", [expected]
    ).fetchone()
    assert definitions == list(DEFINITIONS)
    assert json.loads(stored)["service_level_voice_seconds"] == 45.0
    assert json.loads(stored)["churn_threshold"] == 50
    # the abandon treatment is applied when reading: it does not make another knob set
    assert "abandon_treatment" not in json.loads(stored)
    assert knob_set_id(mart_knobs(settings(abandon_treatment="ignore"))) == knob_set_id(
        mart_knobs(settings())
    )


def test_days_refreshed_with_other_knobs_are_reported_apart_not_added_together():
    con = refreshed(two_days(), date_to=NEXT_DAY)  # T = 20 s: both calls (30 s) miss it
    # the second day is refreshed again after T became 45 s: its call now meets it
    refresh_marts(con, NEXT_DAY, NEXT_DAY, settings(service_level_voice_seconds=45.0))
    every_set = kpi_values(con, DAY, NEXT_DAY, [], settings(), ALL_KNOB_SETS)
    rows = [r for r in every_set if r["kpi"] == "service_level.v1"]
    # one row per knob set, never 1 met out of 2 under no knob set at all
    assert sorted((r["knobs"]["service_level_voice_seconds"], r["value"]) for r in rows) == [
        (20.0, 0.0),
        (45.0, 1.0),
    ]
    assert len({r["knob_set"] for r in rows}) == 2


def test_a_set_that_lacks_some_days_of_the_range_is_refused_not_read_short():
    con = refreshed(two_days(), date_to=NEXT_DAY)  # T = 20 s
    later = settings(service_level_voice_seconds=45.0)
    refresh_marts(con, NEXT_DAY, NEXT_DAY, later)  # only the second day under T = 45 s
    with pytest.raises(KnobSetMissing) as refused:
        kpi_values(con, DAY, NEXT_DAY, [], later)
    default_set = knob_set_id(mart_knobs(settings()))
    assert refused.value.days == [DAY]
    assert refused.value.knob_set == knob_set_id(mart_knobs(later))
    assert refused.value.knobs["service_level_voice_seconds"] == 45.0
    assert list(refused.value.others) == [default_set]
    assert refused.value.others[default_set]["service_level_voice_seconds"] == 20.0
    # the day it holds reads alone
    (alone,) = [r for r in kpi_values(con, NEXT_DAY, NEXT_DAY, [], later) if r["kpi"] == "aht.v1"]
    assert alone["denominator"] == 1


def test_refreshing_a_day_again_replaces_its_rows_and_keeps_the_others():
    con = refreshed(two_days(), date_to=NEXT_DAY)
    build_int_layer(con, [*two_days(), handled_call("d3", "2026-01-06T10:00:00")])
    refresh_marts(con, NEXT_DAY, NEXT_DAY, settings())
    (first, second) = con.execute(
        "select sum(handled_contacts) from mart_contact_kpis_hourly group by day order by day"
    ).fetchall()
    assert (first[0], second[0]) == (1, 2)


def test_a_zero_denominator_in_one_group_does_not_hide_the_others():
    contacts = [
        handled_call("a", "2026-01-05T09:00:00", agent="agent-1"),
        contact("b", "2026-01-05T09:00:00", agent="agent-2", abandoned=3.0),
    ]
    values = kpis(refreshed(contacts), ("queue",))
    assert values[("aht.v1", "acme.support")]["value"] == 330.0
    by_agent = kpis(refreshed(contacts), ("agent",))
    assert by_agent[("aht.v1", "agent-1")]["value"] == 330.0
    assert by_agent[("aht.v1", None)]["value"] is None  # the short abandon has no agent


def test_missing_inputs_are_named():
    con = duckdb.connect()
    build_int_layer(con, [])
    assert missing_inputs(con) == []
    con.execute("alter table int_contacts drop column customer_key")
    con.execute("drop table int_surveys")
    assert missing_inputs(con) == ["int_contacts.customer_key", "int_surveys"]


def test_days_are_named_as_runs():
    days = [DAY, NEXT_DAY, date(2026, 1, 7), date(2026, 1, 9)]
    assert format_days(days) == "2026-01-05..2026-01-07, 2026-01-09"
