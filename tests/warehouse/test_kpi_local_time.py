"""Local time (kpis.md, Time attribution): KPIs attribute contacts, journeys, surveys, agent time
and churn's as-of days to the days and hours of each tenant's reporting time zone.

Europe/Paris switches to summer time (CEST, UTC+2) at 01:00 UTC on 29 March 2026 and back to
winter time (CET, UTC+1) at 01:00 UTC on 25 October 2026: 29 March has 23 local hours, 25
October 25 (02:00 twice). ``acme`` reports in Paris, ``bluewave`` keeps the default, UTC.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

import pytest

from schemas.knob_sets import mart_knobs
from schemas.settings import TenantSettings, with_overrides
from tests.warehouse.kpi_fixtures import (
    handled_call,
    kpis,
    refreshed,
    settings,
    span,
    survey,
)
from warehouse.kpi_marts import knob_set_id
from warehouse.kpis import kpi_values

PARIS = with_overrides(settings(), tenants={"acme": TenantSettings(time_zone="Europe/Paris")})
MARCH_31, APRIL_1 = date(2026, 3, 31), date(2026, 4, 1)
SPRING, AUTUMN = date(2026, 3, 29), date(2026, 10, 25)


def test_a_paris_contact_at_2330_utc_on_31_march_falls_on_1_april() -> None:
    contacts = [
        handled_call("p1", "2026-03-31T23:30:00", customer="ann"),  # 01:30 CEST on 1 April
        handled_call("p0", "2026-03-31T21:30:00", customer="ben"),  # 23:30 CEST on 31 March
        handled_call("u1", "2026-03-31T23:30:00", tenant="bluewave", customer="cid"),
    ]
    surveys = [survey("s1", "p1", "2026-03-31T23:40:00", nps=10)]
    con = refreshed(contacts, surveys=surveys, date_from=MARCH_31, date_to=APRIL_1, knobs=PARIS)
    got = kpis(con, ("day", "tenant"), date_from=MARCH_31, date_to=APRIL_1, knobs=PARIS)

    assert got[("offered.v1", APRIL_1, "acme")]["value"] == 1
    assert got[("offered.v1", MARCH_31, "acme")]["value"] == 1
    assert got[("offered.v1", MARCH_31, "bluewave")]["value"] == 1  # UTC: still 31 March
    assert ("offered.v1", APRIL_1, "bluewave") not in got
    # its journey and its survey go with it
    assert got[("fcr.v1", APRIL_1, "acme")]["denominator"] == 1
    assert got[("nps.v1", APRIL_1, "acme")]["denominator"] == 1
    assert ("nps.v1", MARCH_31, "acme") not in got  # no survey left on 31 March
    # the hour: 01:00 local, which started at 23:00 UTC
    (row,) = con.execute(
        "select day, hour, hour_utc from mart_contact_kpis_hourly where agent = 'agent-1' "
        "and tenant = 'acme' and day = $day",
        {"day": APRIL_1},
    ).fetchall()
    assert row == (APRIL_1, datetime(2026, 4, 1, 1), datetime(2026, 3, 31, 23))


def test_a_survey_without_its_contact_falls_on_its_tenants_local_day() -> None:
    surveys = [survey("s9", "lost", "2026-03-31T22:30:00", csat=5, tenant="acme")]
    con = refreshed([], surveys=surveys, date_from=MARCH_31, date_to=APRIL_1, knobs=PARIS)
    got = kpis(con, ("day",), date_from=MARCH_31, date_to=APRIL_1, knobs=PARIS)
    assert got[("csat.v1", APRIL_1)]["denominator"] == 1
    assert ("csat.v1", MARCH_31) not in got


def every_hour(tenant: str, first: str, hours: int) -> list:
    """A handled call at minute 10 of every UTC hour from ``first`` on, ``hours`` of them."""
    start = datetime.fromisoformat(first)
    return [
        handled_call(
            f"{tenant}-{i}",
            (start + timedelta(hours=i, minutes=10)).isoformat(),
            tenant=tenant,
            customer=f"{tenant}-{i}",
        )
        for i in range(hours)
    ]


def hours_of(con, day: date, tenant: str) -> list[tuple[datetime, datetime, int]]:
    """(hour, hour_utc, offered) of one tenant's day in the contact mart, in time order."""
    return con.execute(
        "select hour, hour_utc, sum(offered)::int from mart_contact_kpis_hourly "
        "where day = $day and tenant = $tenant group by all order by hour_utc",
        {"day": day, "tenant": tenant},
    ).fetchall()


@pytest.mark.parametrize(
    ("day", "midnight_utc", "hours", "repeated"),
    [
        (SPRING, "2026-03-28T23:00:00", 23, None),
        (AUTUMN, "2026-10-24T22:00:00", 25, datetime(2026, 10, 25, 2)),
    ],
    ids=["spring-23-hours", "autumn-25-hours"],
)
def test_a_daylight_saving_day_has_23_or_25_hours_and_its_total_is_their_sum(
    day: date, midnight_utc: str, hours: int, repeated: datetime | None
) -> None:
    # a call every UTC hour from 4 hours before the local day to 4 hours after it
    first = f"{day - timedelta(days=1)}T18:00:00"
    contacts = every_hour("acme", first, 36) + every_hour("bluewave", first, 36)
    agent_day = [  # available from local midnight until after the day: cut at the next one
        span("agent-9", "available", midnight_utc, f"{day}T23:59:00")
    ]
    con = refreshed(contacts, spans=agent_day, date_from=day, date_to=day, knobs=PARIS)

    local = hours_of(con, day, "acme")
    assert len(local) == hours
    assert all(offered == 1 for _, _, offered in local)
    labels = Counter(hour for hour, _, _ in local)
    if repeated is None:  # 02:00 does not exist: 01:00 is followed by 03:00
        assert datetime(day.year, day.month, day.day, 2) not in labels
        assert [h.hour for h, _, _ in local[:3]] == [0, 1, 3]
    else:  # 02:00 twice, one UTC hour apart, in two rows
        assert labels[repeated] == 2
        twice = [utc for hour, utc, _ in local if hour == repeated]
        assert twice[1] - twice[0] == timedelta(hours=1)
    assert len(hours_of(con, day, "bluewave")) == 24  # a UTC tenant's day is unchanged

    # the day's totals are the sums of its hours, for contacts and agent time alike
    daily = kpis(con, ("day", "tenant"), date_from=day, date_to=day, knobs=PARIS)
    hourly = kpi_values(con, day, day, ["hour", "tenant"], PARIS)
    acme_hours = [row for row in hourly if row["tenant"] == "acme"]
    offered_hours = [r["value"] for r in acme_hours if r["kpi"] == "offered.v1"]
    assert len(offered_hours) == hours
    assert daily[("offered.v1", day, "acme")]["value"] == sum(offered_hours) == hours
    aht_hours = [r for r in acme_hours if r["kpi"] == "aht.v1"]
    assert daily[("aht.v1", day, "acme")]["numerator"] == sum(r["numerator"] for r in aht_hours)
    occupancy_hours = [r for r in acme_hours if r["kpi"] == "occupancy.v1"]
    assert len(occupancy_hours) == hours
    available = daily[("occupancy.v1", day, "acme")]["denominator"]
    assert available == sum(r["denominator"] for r in occupancy_hours) == hours * 3600


def test_a_rows_hour_utc_tells_the_repeated_hour_apart_when_read_by_hour() -> None:
    contacts = every_hour("acme", "2026-10-25T00:00:00", 2)  # 02:10 CEST, then 02:10 CET
    con = refreshed(contacts, date_from=AUTUMN, date_to=AUTUMN, knobs=PARIS)
    rows = kpi_values(con, AUTUMN, AUTUMN, ["hour"], PARIS)
    offered = [row for row in rows if row["kpi"] == "offered.v1"]
    assert [(r["hour"], r["hour_utc"], r["value"]) for r in offered] == [
        (datetime(2026, 10, 25, 2), datetime(2026, 10, 25, 0), 1),
        (datetime(2026, 10, 25, 2), datetime(2026, 10, 25, 1), 1),
    ]


def test_agent_time_stops_at_the_tenants_local_midnight() -> None:
    # 23:30-00:30 in Paris: the busy half hour after local midnight belongs to no day
    spans = [span("agent-1", "busy", "2026-03-31T21:30:00", "2026-03-31T22:30:00")]
    spans += [
        span("agent-2", "busy", "2026-03-31T21:30:00", "2026-03-31T22:30:00", tenant="bluewave")
    ]
    con = refreshed([], spans=spans, date_from=MARCH_31, date_to=APRIL_1, knobs=PARIS)
    got = kpis(con, ("day", "tenant"), date_from=MARCH_31, date_to=APRIL_1, knobs=PARIS)
    assert got[("occupancy.v1", MARCH_31, "acme")]["numerator"] == 1800.0
    assert ("occupancy.v1", APRIL_1, "acme") not in got
    assert got[("occupancy.v1", MARCH_31, "bluewave")]["numerator"] == 3600.0  # UTC: whole hour


def test_churn_as_of_days_end_at_the_tenants_local_midnight() -> None:
    # 00:30 on 1 April in Paris, 22:30 on 31 March in UTC
    contacts = [
        handled_call("p1", "2026-03-31T22:30:00", customer="ann", cancellation_intent=True),
        handled_call(
            "u1", "2026-03-31T22:30:00", tenant="bluewave", customer="ben", cancellation_intent=True
        ),
    ]
    con = refreshed(contacts, date_from=MARCH_31, date_to=APRIL_1, knobs=PARIS)
    flagged = con.execute(
        "select tenant, as_of_day from mart_churn_risk order by tenant, as_of_day"
    ).fetchall()
    assert flagged == [("acme", APRIL_1), ("bluewave", MARCH_31), ("bluewave", APRIL_1)]


def test_the_time_zones_are_knobs_of_the_knob_set_and_utc_changes_nothing() -> None:
    default = settings()
    utc_table = with_overrides(default, tenants={"acme": TenantSettings(time_zone="UTC")})
    assert knob_set_id(mart_knobs(utc_table)) == knob_set_id(mart_knobs(default))
    assert mart_knobs(PARIS)["time_zones"] == {"acme": "Europe/Paris"}
    assert knob_set_id(mart_knobs(PARIS)) != knob_set_id(mart_knobs(default))
    con = refreshed([handled_call("p1", "2026-03-31T23:30:00")], knobs=PARIS)
    assert con.execute("select * from kpi_time_zones").fetchall() == [("acme", "Europe/Paris")]
