"""Survey KPIs (nps.v1, csat.v1, ces.v1): shares and means recomputed from counts, attributed to
the surveyed contact's day, channel, queue and agent."""

from __future__ import annotations

import pytest

from tests.warehouse.kpi_fixtures import (
    DAY,
    NEXT_DAY,
    contact,
    handled_call,
    kpis,
    refreshed,
    survey,
)

AT = "2026-01-05T12:00:00"


def test_nps_csat_and_ces_from_hand_counted_answers():
    calls = [handled_call(f"c{i}", "2026-01-05T09:00:00") for i in range(6)]
    answers = [
        # nps: promoters 10, 9, 9; passive 8; detractors 6, 0
        survey("s0", "c0", AT, nps=10, csat=5, ces=7),
        survey("s1", "c1", AT, nps=9, csat=4, ces=5),
        survey("s2", "c2", AT, nps=9, csat=3, ces=4),
        survey("s3", "c3", AT, nps=8, csat=1, ces=1),
        survey("s4", "c4", AT, nps=6),
        survey("s5", "c5", AT, nps=0),
    ]
    values = kpis(refreshed(calls, surveys=answers))
    nps = values[("nps.v1",)]
    assert (nps["numerator"], nps["denominator"]) == (1, 6)  # 3 promoters - 2 detractors
    assert nps["value"] == pytest.approx(100 / 6)
    # csat 5, 4, 3, 1: top-2-box 2 of 4, mean 13 / 4
    assert values[("csat.v1",)]["value"] == pytest.approx(0.5)
    assert values[("csat.v1.mean",)]["value"] == pytest.approx(3.25)
    # ces 7, 5, 4, 1: mean 17 / 4, share of 5-7: 2 of 4
    assert values[("ces.v1",)]["value"] == pytest.approx(4.25)
    assert values[("ces.v1.share_5_7",)]["value"] == pytest.approx(0.5)


def test_a_survey_belongs_to_its_contacts_day_channel_queue_and_agent():
    chat = contact(
        "chat-1",
        "2026-01-05T22:00:00",
        channel="chat",
        queue="acme.chat",
        agent="agent-7",
        answered=30.0,
        ended=900.0,
    )
    # completed the next day, and the survey tool says "sms": the contact decides
    late = survey("s1", "chat-1", "2026-01-06T08:00:00", nps=10, channel="sms")
    con = refreshed([chat], surveys=[late], date_to=NEXT_DAY)
    values = kpis(con, ("day", "channel", "queue", "agent"), date_to=NEXT_DAY)
    assert values[("nps.v1", DAY, "chat", "acme.chat", "agent-7")]["value"] == 100.0
    assert [k for k in values if k[0] == "nps.v1"] == [
        ("nps.v1", DAY, "chat", "acme.chat", "agent-7")
    ]


def test_a_survey_without_a_matching_contact_keeps_its_own_channel_and_day():
    call = handled_call("c1", "2026-01-05T09:00:00")
    answers = [
        survey("s1", "c1", AT, nps=10),
        survey("orphan", "lost-contact", "2026-01-06T07:00:00", nps=2, channel="email"),
    ]
    con = refreshed([call], surveys=answers, date_to=NEXT_DAY)
    values = kpis(con, ("day", "channel", "queue"), date_to=NEXT_DAY)
    assert values[("nps.v1", DAY, "voice", "acme.support")]["value"] == 100.0
    assert values[("nps.v1", NEXT_DAY, "email", None)]["value"] == -100.0
    (without,) = con.execute(
        "select sum(surveys_without_contact) from mart_survey_kpis_daily"
    ).fetchone()
    assert without == 1
    assert kpis(con, date_to=NEXT_DAY)[("nps.v1",)]["value"] == 0.0  # 1 promoter, 1 detractor


def test_surveys_of_outbound_contacts_are_left_out():
    calls = [
        handled_call("in", "2026-01-05T09:00:00"),
        handled_call("out", "2026-01-05T09:00:00", direction="outbound"),
    ]
    answers = [survey("s1", "in", AT, csat=5), survey("s2", "out", AT, csat=1)]
    values = kpis(refreshed(calls, surveys=answers))
    assert values[("csat.v1",)]["denominator"] == 1
    assert values[("csat.v1",)]["value"] == 1.0


def test_a_score_nobody_gave_has_no_value():
    call = handled_call("c1", "2026-01-05T09:00:00")
    values = kpis(refreshed([call], surveys=[survey("s1", "c1", AT, nps=7)]))
    assert values[("nps.v1",)]["value"] == 0.0  # one passive
    for kpi in ("csat.v1", "csat.v1.mean", "ces.v1", "ces.v1.share_5_7"):
        assert values[(kpi,)]["value"] is None, kpi
        assert values[(kpi,)]["denominator"] == 0, kpi


def test_survey_kpis_have_no_hour():
    call = handled_call("c1", "2026-01-05T09:00:00")
    values = kpis(refreshed([call], surveys=[survey("s1", "c1", AT, nps=9)]), ("hour",))
    assert not [k for k in values if k[0].startswith(("nps", "csat", "ces"))]
    assert any(k[0] == "aht.v1" for k in values)
