"""Resolution KPIs (fcr.v1, fcr_net.v1, fcr_channel.v1, repeat_rate.v1) and the agreement of
the stream's journeys with their SQL recomputation."""

from __future__ import annotations

from datetime import date

import pytest

from tests.warehouse.kpi_fixtures import (
    DAY,
    NEXT_DAY,
    contact,
    handled_call,
    kpis,
    refreshed,
    settings,
    stream_journeys,
)
from warehouse.kpi_checks import journey_mismatches


def omnichannel_customers():
    """alice calls (resolved), then chats the next day: one journey across channels, not resolved
    at first contact; bob's single call is resolved; carol's single call is not resolvable in
    one contact and was not resolved."""
    return [
        handled_call("alice-call", "2026-01-05T09:00:00", customer="alice"),
        contact(
            "alice-chat",
            "2026-01-06T10:00:00",
            channel="chat",
            customer="alice",
            answered=20.0,
            ended=600.0,
            wrapped=630.0,
            disposition="resolved",
        ),
        handled_call("bob-call", "2026-01-05T10:00:00", customer="bob"),
        handled_call(
            "carol-call",
            "2026-01-05T11:00:00",
            customer="carol",
            disposition="follow_up",
            resolvable=False,
        ),
    ]


def test_fcr_gross_net_channel_and_repeat_rate():
    con = refreshed(omnichannel_customers(), date_to=NEXT_DAY)
    values = kpis(con, date_to=NEXT_DAY)
    fcr = values[("fcr.v1",)]
    assert (fcr["numerator"], fcr["denominator"]) == (1, 3)  # only bob's
    fcr_net = values[("fcr_net.v1",)]
    assert (fcr_net["numerator"], fcr_net["denominator"]) == (1, 2)  # carol's left out
    # per channel alice's call and chat are two journeys, each resolved at first contact
    fcr_channel = values[("fcr_channel.v1",)]
    assert (fcr_channel["numerator"], fcr_channel["denominator"]) == (3, 4)
    repeat = values[("repeat_rate.v1",)]
    assert (repeat["numerator"], repeat["denominator"]) == (4, 3)
    assert repeat["knobs"] == {"repeat_window_days": 7.0, "short_abandon_seconds": 5.0}


def test_a_journey_crossing_midnight_and_channels_belongs_to_its_first_contacts_day():
    contacts = [
        handled_call("first", "2026-01-05T23:50:00", customer="dan", disposition="unresolved"),
        contact(
            "second",
            "2026-01-06T00:20:00",
            channel="email",
            customer="dan",
            queue="acme.mail",
            answered=300.0,
            ended=301.0,
            disposition="resolved",
        ),
    ]
    con = refreshed(contacts, date_to=NEXT_DAY)
    values = kpis(con, ("day", "channel", "queue"), date_to=NEXT_DAY)
    journeys = {k: v for k, v in values.items() if k[0] == "repeat_rate.v1"}
    # one cross-channel journey of two contacts on the call's day, channel and queue
    assert journeys[("repeat_rate.v1", DAY, "voice", "acme.support")]["numerator"] == 2
    assert journeys[("repeat_rate.v1", DAY, "voice", "acme.support")]["denominator"] == 1
    # per channel the e-mail is a journey of its own on the next day, resolved at once
    email = values[("fcr_channel.v1", NEXT_DAY, "email", "acme.mail")]
    assert (email["numerator"], email["denominator"]) == (1, 1)
    assert journeys[("repeat_rate.v1", NEXT_DAY, "email", "acme.mail")]["denominator"] == 0


def test_the_repeat_window_boundary_is_inclusive():
    knobs = settings(repeat_window_days=1.0)
    contacts = [
        # wrapped up at 09:05:40 on day 1
        handled_call("a", "2026-01-05T09:00:00", customer="eve"),
        # starts exactly W after: repeats a
        handled_call("b", "2026-01-06T09:05:40", customer="eve"),
        # b wrapped up at 09:11:20 on day 2; c starts 1 ms more than W later: a new journey
        handled_call("c", "2026-01-07T09:11:20.001", customer="eve"),
    ]
    con = refreshed(
        contacts,
        journeys=stream_journeys(contacts, window_days=1.0),
        date_to=NEXT_DAY,
        knobs=knobs,
    )
    rows = con.execute(
        "select journey_id, contact_ids from mart_journeys_recomputed "
        "where scope = 'cross_channel' order by journey_id"
    ).fetchall()
    assert rows == [("a", ["a", "b"])]  # c's journey starts on day 3, outside the refresh
    assert journey_mismatches(con, DAY, NEXT_DAY) == (1, [])


def test_short_abandons_deflections_and_outbound_contacts_join_no_journey():
    contacts = [
        handled_call("call", "2026-01-05T09:00:00", customer="fay"),
        contact("short", "2026-01-05T10:00:00", customer="fay", abandoned=3.0),
        contact(
            "ivr", "2026-01-05T11:00:00", customer="fay", queued=None, deflection="self_service"
        ),
        handled_call("out", "2026-01-05T12:00:00", customer="fay", direction="outbound"),
    ]
    values = kpis(refreshed(contacts))
    assert values[("fcr.v1",)]["value"] == 1.0
    assert values[("repeat_rate.v1",)]["value"] == 1.0


def test_customers_nobody_can_attribute_each_make_their_own_journeys():
    contacts = [
        handled_call("x", "2026-01-05T09:00:00", customer=None),
        handled_call("y", "2026-01-05T09:30:00", customer=None),
    ]
    con = refreshed(contacts)
    assert kpis(con)[("repeat_rate.v1",)]["denominator"] == 2
    assert journey_mismatches(con, DAY, DAY) == (2, [])


def test_the_stream_journeys_agree_with_the_sql_recomputation():
    con = refreshed(omnichannel_customers(), date_to=NEXT_DAY)
    assert journey_mismatches(con, DAY, NEXT_DAY) == (3, [])


def test_a_stream_journey_that_lost_a_contact_is_reported():
    contacts = omnichannel_customers()
    journeys = stream_journeys(contacts)
    alice = next(j for j in journeys if j.journey_id == "alice-call")
    alice.contact_ids = ["alice-call"]  # the stream missed the chat
    con = refreshed(contacts, journeys=journeys, date_to=NEXT_DAY)
    compared, mismatches = journey_mismatches(con, DAY, NEXT_DAY)
    assert compared == 3
    assert mismatches == [
        {
            "journey_id": "alice-call",
            "stream_contact_ids": ["alice-call"],
            "sql_contact_ids": ["alice-call", "alice-chat"],
            "stream_resolved_at_first_contact": False,
            "sql_resolved_at_first_contact": False,
        }
    ]


def test_journeys_built_with_another_window_than_the_knob_disagree():
    contacts = [
        handled_call("a", "2026-01-05T09:00:00", customer="gus"),
        handled_call("b", "2026-01-06T12:00:00", customer="gus"),
    ]
    # the stream used the default 7 days; the marts are refreshed with a 1-day window
    con = refreshed(contacts, date_to=NEXT_DAY, knobs=settings(repeat_window_days=1.0))
    compared, mismatches = journey_mismatches(con, DAY, NEXT_DAY)
    assert compared == 1
    assert [m["journey_id"] for m in mismatches] == ["a", "b"]
    assert mismatches[1]["stream_contact_ids"] is None


@pytest.mark.parametrize("window_days", [0.5, 7.0])
def test_fcr_depends_on_the_repeat_window(window_days):
    contacts = [
        handled_call("a", "2026-01-05T01:00:00", customer="hal"),
        handled_call("b", "2026-01-05T20:00:00", customer="hal"),
    ]
    knobs = settings(repeat_window_days=window_days)
    con = refreshed(contacts, journeys=stream_journeys(contacts, window_days), knobs=knobs)
    # 19 h apart: two journeys both resolved with a 12 h window, one unresolved with 7 days
    expected = 1.0 if window_days == 0.5 else 0.0
    assert kpis(con, knobs=knobs)[("fcr.v1",)]["value"] == expected


def test_a_one_day_refresh_sees_a_long_contact_that_started_long_before():
    """The one-day refresh reads the contacts from the day minus a day, the window and the
    longest contact: an email open ten days still makes the next contact a repeat across
    channels, and the day's journeys are those of a refresh of every day."""
    knobs = settings(repeat_window_days=1.0)
    day = date(2026, 1, 16)
    contacts = [
        # wrapped up ten days after it started (2026-01-15T09:00)
        contact(
            "long-email",
            "2026-01-05T09:00:00",
            channel="email",
            customer="gil",
            answered=60.0,
            ended=864_000.0,
            wrapped=864_000.0,
            disposition="follow_up",
        ),
        # within the window of the email's end: a repeat, not a journey of the 16th
        handled_call("gil-call", "2026-01-16T08:00:00", customer="gil"),
        handled_call("hal-old", "2026-01-05T10:00:00", customer="hal"),
        handled_call("hal-new", "2026-01-16T10:00:00", customer="hal"),
    ]
    journeys = "select scope, journey_id, contact_ids, contact_count from mart_journeys_recomputed"
    one_day = refreshed(contacts, date_from=day, date_to=day, knobs=knobs)
    every_day = refreshed(contacts, date_from=DAY, date_to=day, knobs=knobs)
    got = sorted(one_day.execute(journeys).fetchall())
    assert got == [
        ("cross_channel", "hal-new", ["hal-new"], 1),
        ("per_channel", "gil-call", None, 1),  # the first call of gil's voice journeys
        ("per_channel", "hal-new", None, 1),
    ]
    assert got == sorted(every_day.execute(journeys + f" where day = date '{day}'").fetchall())
