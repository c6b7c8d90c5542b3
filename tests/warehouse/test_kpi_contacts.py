"""Contact-handling KPIs (offered, asa, service level, abandon rate, aht, transfers, first
response, IVR containment) on hand-made contacts whose answers are worked out in each test."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.warehouse.kpi_fixtures import (
    DAY,
    NEXT_DAY,
    contact,
    handled_call,
    kpis,
    refreshed,
    settings,
)


def service_level_contacts():
    """Voice (T = 20 s), queued at 0: answered at 5 s, exactly 20 s and 20.001 s; abandoned at
    10 s (within T), 30 s, exactly 5 s (not short: short is < 5 s) and 4.999 s (short)."""
    start = "2026-01-05T09:00:00"
    return [
        contact("met", start, answered=5.0, ended=65.0),
        contact("at-threshold", start, answered=20.0, ended=80.0),
        contact("missed", start, answered=20.001, ended=80.0),
        contact("gave-up-early", start, abandoned=10.0),
        contact("gave-up-late", start, abandoned=30.0),
        contact("gave-up-at-5s", start, abandoned=5.0),
        contact("short", start, abandoned=4.999),
    ]


def test_service_level_counts_an_answer_at_exactly_the_threshold_as_met():
    con = refreshed(service_level_contacts())
    row = kpis(con)[("service_level.v1",)]
    # met: answered at 5 s and at exactly 20 s; answered 3 + abandoned (not short) 3
    assert (row["numerator"], row["denominator"]) == (2, 6)
    assert row["value"] == pytest.approx(2 / 6)
    assert row["knobs"]["abandon_treatment"] == "negative"
    assert row["knobs"]["service_level_voice_seconds"] == 20.0


@pytest.mark.parametrize(
    ("treatment", "numerator", "denominator"),
    [
        ("negative", 2, 6),  # abandons count as missed
        ("ignore", 2, 3),  # abandons leave the denominator
        ("positive", 4, 6),  # abandons within T (10 s, 5 s) count as met
    ],
)
def test_each_abandon_treatment(treatment, numerator, denominator):
    knobs = settings(abandon_treatment=treatment)
    con = refreshed(service_level_contacts(), knobs=knobs)
    values = kpis(con, knobs=knobs)
    configured = values[("service_level.v1",)]
    assert (configured["numerator"], configured["denominator"]) == (numerator, denominator)
    assert configured["value"] == pytest.approx(numerator / denominator)
    # every treatment is also reported under its own id, whatever the configured one
    assert values[(f"service_level.v1.{treatment}",)]["value"] == pytest.approx(
        numerator / denominator
    )


def test_offered_and_abandon_rate_leave_short_abandons_out():
    con = refreshed(service_level_contacts())
    values = kpis(con)
    assert values[("offered.v1",)]["value"] == 6  # 7 queued, one short abandon
    abandon = values[("abandon_rate.v1",)]
    assert (abandon["numerator"], abandon["denominator"]) == (3, 6)


def test_the_short_abandon_threshold_is_a_knob():
    knobs = settings(short_abandon_seconds=12.0)
    con = refreshed(service_level_contacts(), knobs=knobs)
    values = kpis(con, knobs=knobs)
    # now 10 s, 5 s and 4.999 s are short abandons
    assert values[("offered.v1",)]["value"] == 4
    assert values[("abandon_rate.v1",)]["value"] == pytest.approx(1 / 4)
    assert values[("offered.v1",)]["knobs"] == {"short_abandon_seconds": 12.0}


def test_asa_aht_and_transfer_rates_with_holds_and_transfers():
    start = "2026-01-05T10:00:00"
    contacts = [
        # wait 10 s; talk 240 + hold 60 + after-contact work 30 = 330 s
        contact("c1", start, answered=10.0, hold=60.0, ended=310.0, wrapped=340.0),
        # queued at 5 s, wait 30 s; never wrapped up: 600 s of talk, no ACW; warm transfer
        contact("c2", start, queued=5.0, answered=35.0, ended=635.0, warm=1),
        # chat (T = 60 s), wait 45 s; 55 s + 30 s ACW = 85 s; one warm and one cold transfer
        contact(
            "c3", start, channel="chat", answered=45.0, ended=100.0, wrapped=130.0, warm=1, cold=1
        ),
        # answered after 20 s but not ended yet: in ASA, not handled
        contact("c4", start, answered=20.0),
    ]
    values = kpis(refreshed(contacts))
    asa = values[("asa.v1",)]
    assert (asa["numerator"], asa["denominator"]) == (pytest.approx(105.0), 4)
    assert asa["value"] == pytest.approx(26.25)
    aht = values[("aht.v1",)]
    assert (aht["numerator"], aht["denominator"]) == (pytest.approx(1015.0), 3)
    assert values[("transfer_rate.v1",)]["value"] == pytest.approx(2 / 3)
    assert values[("transfer_rate.v1.warm",)]["value"] == pytest.approx(2 / 3)
    assert values[("transfer_rate.v1.cold",)]["value"] == pytest.approx(1 / 3)


def test_ivr_containment_split_by_cause():
    start = "2026-01-05T11:00:00"
    contacts = [
        contact("d1", start, queued=None, deflection="front_end_message"),
        contact("d2", start, queued=None, deflection="front_end_message"),
        contact("d3", start, queued=None, deflection="self_service"),
        contact("q1", start, answered=5.0, ended=60.0),
        contact("q2", start, abandoned=40.0),
        # outbound calls and other channels are not in the denominator
        contact("out", start, direction="outbound", queued=None, answered=0.0, ended=30.0),
        contact("chat", start, channel="chat", answered=5.0, ended=60.0),
    ]
    values = kpis(refreshed(contacts))
    row = values[("ivr_containment.v1",)]
    assert (row["numerator"], row["denominator"]) == (3, 5)
    assert values[("ivr_containment.v1.front_end_message",)]["value"] == pytest.approx(0.4)
    assert values[("ivr_containment.v1.self_service",)]["value"] == pytest.approx(0.2)
    assert values[("ivr_containment.v1.ivr_menu",)]["value"] == 0.0


def test_first_response_median_and_p90_are_taken_over_the_range():
    contacts = [
        contact("e1", "2026-01-05T09:00:00", channel="email", answered=10.0),
        contact("e2", "2026-01-05T09:00:00", channel="chat", answered=20.0),
        contact("e3", "2026-01-05T09:00:00", channel="sms", queued=None, answered=30.0),
        contact("e4", "2026-01-05T09:00:00", channel="social", answered=40.0),
        contact("e5", "2026-01-06T09:00:00", channel="chat", answered=100.0),
        # voice has no first response; outbound replies are not responses
        contact("v1", "2026-01-05T09:00:00", answered=1.0),
        contact("o1", "2026-01-05T09:00:00", channel="sms", direction="outbound", answered=5.0),
    ]
    con = refreshed(contacts, date_to=NEXT_DAY)
    day = kpis(con)
    # [10, 20, 30, 40]: median 25; p90 at rank 2.7 -> 30 + 0.7 x 10 = 37
    assert day[("first_response.v1",)]["value"] == pytest.approx(25.0)
    assert day[("first_response.v1.p90",)]["value"] == pytest.approx(37.0)
    assert day[("first_response.v1",)]["denominator"] == 4
    both = kpis(con, date_to=NEXT_DAY)
    # [10, 20, 30, 40, 100]: median 30; p90 at rank 3.6 -> 40 + 0.6 x 60 = 76
    assert both[("first_response.v1",)]["value"] == pytest.approx(30.0)
    assert both[("first_response.v1.p90",)]["value"] == pytest.approx(76.0)


def test_zero_denominators_give_none_not_zero():
    contacts = [
        contact("short", "2026-01-05T09:00:00", abandoned=2.0),
        contact("ivr", "2026-01-05T09:00:00", queued=None, deflection="self_service"),
    ]
    values = kpis(refreshed(contacts))
    for kpi in (
        "asa.v1",
        "service_level.v1",
        "abandon_rate.v1",
        "aht.v1",
        "transfer_rate.v1",
        "transfer_rate.v1.warm",
    ):
        assert values[(kpi,)]["value"] is None, kpi
        assert values[(kpi,)]["denominator"] == 0, kpi
    assert values[("offered.v1",)]["value"] == 0
    assert values[("ivr_containment.v1",)]["value"] == pytest.approx(0.5)
    assert ("first_response.v1",) not in values  # no contact to take a median over


def test_a_two_day_roll_up_is_recomputed_from_counts_not_averaged():
    contacts = [
        # day 1: one call answered in 10 s, handled in 330 s
        handled_call("d1", "2026-01-05T09:00:00"),
        # day 2: three calls of 130 s (answered 10 s, ended 110 s, wrapped 140 s), two of them
        # answered after 30 s (missing T)
        *(
            handled_call(
                f"d2-{i}",
                "2026-01-06T09:00:00",
                answered=wait,
                ended=wait + 100.0,
                wrapped=wait + 130.0,
            )
            for i, wait in enumerate((10.0, 30.0, 30.0))
        ),
    ]
    con = refreshed(contacts, date_to=NEXT_DAY)
    daily = kpis(con, ("day",), date_to=NEXT_DAY)
    assert daily[("aht.v1", DAY)]["value"] == pytest.approx(330.0)
    assert daily[("aht.v1", NEXT_DAY)]["value"] == pytest.approx(130.0)
    assert daily[("service_level.v1", DAY)]["value"] == pytest.approx(1.0)
    assert daily[("service_level.v1", NEXT_DAY)]["value"] == pytest.approx(1 / 3)
    both = kpis(con, date_to=NEXT_DAY)
    # (330 + 3 x 130) / 4 = 180, not (330 + 130) / 2 = 230
    assert both[("aht.v1",)]["value"] == pytest.approx(180.0)
    assert both[("aht.v1",)]["denominator"] == 4
    # 2 met out of 4, not (1 + 1/3) / 2
    assert both[("service_level.v1",)]["value"] == pytest.approx(0.5)


def test_contacts_belong_to_the_hour_and_day_they_started():
    contacts = [
        # starts at 23:59:50, answered and ended after midnight
        contact("late", "2026-01-05T23:59:50", answered=15.0, ended=100.0, wrapped=110.0),
        # its start event was lost: it belongs to its first queueing
        contact("no-start", "2026-01-06T00:00:30", answered=5.0, ended=50.0, has_start_event=False),
    ]
    con = refreshed(contacts, date_to=NEXT_DAY)
    hourly = kpis(con, ("day", "hour"), date_to=NEXT_DAY)
    assert hourly[("aht.v1", DAY, datetime(2026, 1, 5, 23))]["value"] == pytest.approx(95.0)
    assert hourly[("aht.v1", NEXT_DAY, datetime(2026, 1, 6, 0))]["value"] == pytest.approx(45.0)
    assert len([k for k in hourly if k[0] == "aht.v1"]) == 2


def test_grouping_by_queue_and_agent():
    start = "2026-01-05T14:00:00"
    contacts = [
        handled_call("a", start, agent="agent-1"),  # 330 s
        handled_call(
            "b", start, agent="agent-2", queue="acme.billing", ended=110.0, wrapped=110.0
        ),  # 100 s, no ACW
        handled_call(
            "c", start, agent="agent-2", queue="acme.billing", ended=210.0, wrapped=210.0
        ),  # 200 s
    ]
    values = kpis(refreshed(contacts), ("queue", "agent"))
    assert values[("aht.v1", "acme.support", "agent-1")]["value"] == pytest.approx(330.0)
    assert values[("aht.v1", "acme.billing", "agent-2")]["value"] == pytest.approx(150.0)
    by_tenant = kpis(refreshed(contacts), ("tenant", "channel"))
    assert by_tenant[("aht.v1", "acme", "voice")]["value"] == pytest.approx(630.0 / 3)


def test_outbound_contacts_are_left_out_of_contact_kpis():
    start = "2026-01-05T09:00:00"
    contacts = [
        handled_call("in", start),
        handled_call("out", start, direction="outbound", ended=1000.0, wrapped=1000.0),
    ]
    values = kpis(refreshed(contacts))
    assert values[("offered.v1",)]["value"] == 1
    assert values[("aht.v1",)]["value"] == pytest.approx(330.0)


def test_timestamptz_inputs_in_any_session_time_zone_give_the_same_values():
    contacts = [
        handled_call("a", "2026-01-06T02:30:00"),  # 21:30 the day before in New York
        contact("b", "2026-01-05T23:30:00", channel="chat", answered=90.0, ended=200.0),
        contact("c", "2026-01-06T01:00:00", abandoned=45.0),
    ]
    plain = refreshed(contacts, date_to=NEXT_DAY)
    zoned = refreshed(
        contacts, date_to=NEXT_DAY, timestamp_type="TIMESTAMPTZ", time_zone="America/New_York"
    )
    expected = kpis(plain, ("day", "hour"), date_to=NEXT_DAY)
    assert kpis(zoned, ("day", "hour"), date_to=NEXT_DAY) == expected
    assert ("aht.v1", NEXT_DAY, datetime(2026, 1, 6, 2)) in expected
