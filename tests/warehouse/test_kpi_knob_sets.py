"""Several knob sets coexist in the marts: refreshing the same days under another set adds that
set's rows and leaves the others' as they were; readers choose a set, by default the current
settings' one."""

from __future__ import annotations

import json

import duckdb
import pytest

from schemas.knob_sets import configured_targets
from schemas.settings import with_overrides
from schemas.targets import KpiTargets
from tests.warehouse.kpi_fixtures import (
    DAY,
    NEXT_DAY,
    contact,
    handled_call,
    refreshed,
    settings,
    small_centre,
)
from tests.warehouse.outbound_fixtures import with_a_violation
from warehouse.kpi_checks import journey_mismatches
from warehouse.kpi_marts import MARTS, knob_set_id, mart_knobs, refresh_marts
from warehouse.kpis import ALL_KNOB_SETS, KnobSetMissing, kpi_values

AT_20 = settings(service_level_voice_seconds=20.0)
AT_60 = settings(service_level_voice_seconds=60.0)
AT_30 = settings(service_level_voice_seconds=30.0)


def answer_waits():
    """Calls answered after 10, 20, 45 and 90 s of queueing and one abandoned after 30 s."""
    calls = [
        handled_call(f"w{wait}", f"2026-01-05T09:{wait % 60:02d}:00", answered=float(wait))
        for wait in (10, 20, 45, 90)
    ]
    return [*calls, contact("a30", "2026-01-05T10:00:00", abandoned=30.0)]


def service_level(con: duckdb.DuckDBPyConnection, knobs, knob_set: str | None = None) -> dict:
    rows = kpi_values(con, DAY, DAY, [], knobs, knob_set)
    return {r["knob_set"]: r for r in rows if r["kpi"] == "service_level.v1"}


def set_of(knobs) -> str:
    return knob_set_id(mart_knobs(knobs))


def test_two_knob_sets_of_the_same_day_coexist_and_each_reads_its_own_service_level():
    con = refreshed(answer_waits(), knobs=AT_20)
    refresh_marts(con, DAY, DAY, AT_60)
    # T = 20 s: 10 s and exactly 20 s meet it, of 4 answered + 1 abandoned
    (at_20,) = service_level(con, AT_20).values()
    assert (at_20["numerator"], at_20["denominator"], at_20["value"]) == (2, 5, 0.4)
    assert at_20["knobs"]["service_level_voice_seconds"] == 20.0
    # T = 60 s: 45 s meets it too
    (at_60,) = service_level(con, AT_60).values()
    assert (at_60["numerator"], at_60["denominator"], at_60["value"]) == (3, 5, 0.6)
    # an explicit id reads that set whatever the settings, and all reads both, apart
    assert service_level(con, AT_60, set_of(AT_20))[set_of(AT_20)]["value"] == 0.4
    both = service_level(con, AT_30, ALL_KNOB_SETS)
    assert {s: r["value"] for s, r in both.items()} == {set_of(AT_20): 0.4, set_of(AT_60): 0.6}


def test_the_settings_of_a_third_set_are_refused_naming_the_stored_ones():
    con = refreshed(answer_waits(), knobs=AT_20)
    refresh_marts(con, DAY, DAY, AT_60)
    with pytest.raises(KnobSetMissing) as refused:
        kpi_values(con, DAY, DAY, [], AT_30)
    assert refused.value.days == [DAY]
    assert refused.value.knob_set == set_of(AT_30)
    assert refused.value.knobs["service_level_voice_seconds"] == 30.0
    assert {s: k["service_level_voice_seconds"] for s, k in refused.value.others.items()} == {
        set_of(AT_20): 20.0,
        set_of(AT_60): 60.0,
    }


def test_refreshing_another_set_leaves_the_first_sets_rows_identical():
    centre = with_a_violation(small_centre())
    con = refreshed(centre.pop("contacts"), date_to=NEXT_DAY, knobs=AT_20, **centre)

    def rows_of(knob_set: str) -> dict[str, list[tuple]]:
        return {
            mart.name: con.execute(
                f"select * from {mart.name} where knob_set = ? order by all", [knob_set]
            ).fetchall()
            for mart in MARTS
            if mart.day_column is not None  # a table, not the kpi_contacts view
        }

    before = rows_of(set_of(AT_20))
    assert all(before.values())  # small_centre gives every mart rows
    refresh_marts(con, DAY, NEXT_DAY, AT_60)
    assert rows_of(set_of(AT_20)) == before
    # refreshing the first set again rewrites its rows to the same values, the second set's stay
    at_60 = rows_of(set_of(AT_60))
    refresh_marts(con, DAY, NEXT_DAY, AT_20)
    assert rows_of(set_of(AT_20)) == before
    assert rows_of(set_of(AT_60)) == at_60


def test_journeys_of_another_set_are_not_counted_twice():
    centre = small_centre()
    con = refreshed(centre.pop("contacts"), date_to=NEXT_DAY, knobs=AT_20, **centre)
    compared, mismatches = journey_mismatches(con, DAY, NEXT_DAY)
    refresh_marts(con, DAY, NEXT_DAY, AT_60)
    # the service-level threshold does not change journeys: the same counts under both sets
    totals = con.execute(
        "select knob_set, sum(journeys), sum(channel_journeys), "
        "sum(channel_journeys_resolved_first_contact) "
        "from mart_journey_kpis_daily group by knob_set order by knob_set"
    ).fetchall()
    assert len(totals) == 2
    assert totals[0][1:] == totals[1][1:]
    assert totals[0][2] > 0
    # the stream is compared with the journeys of the last refresh's set only
    assert journey_mismatches(con, DAY, NEXT_DAY) == (compared, mismatches)
    assert mismatches == []


def test_the_targets_in_force_are_recorded_with_the_knobs_and_change_no_knob_set():
    con = refreshed(answer_waits(), knobs=AT_20)
    stricter = with_overrides(AT_20, targets={"service_level": KpiTargets(target=0.9)})
    refresh_marts(con, DAY, DAY, stricter)
    stored = dict(con.execute("select target_set, targets from kpi_target_sets").fetchall())
    assert set(stored) == {configured_targets(AT_20)[0], configured_targets(stricter)[0]}
    sl = json.loads(stored[configured_targets(stricter)[0]])["*"]["service_level.v1"]
    assert sl["voice"] == {"value": 0.9, "direction": "higher", "amber": 0.05}
    # targets change no number: the marts hold one knob set, read under either targets
    assert set(service_level(con, stricter)) == {set_of(AT_20)}
