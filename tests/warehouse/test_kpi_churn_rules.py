"""Every churn rule on both sides of its threshold, through both scorers: the batch mart
(``mart_churn_risk``) and the stream's rules (``schemas.churn``, which streams.churn applies).
Each case states the signals a customer raises as of the end of a day; both must say exactly
that, so moving a threshold in either (or in schemas.churn) fails here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.churn import (
    ContactFact,
    CustomerFacts,
    SurveyFact,
    epoch_ms,
    lookback_ms,
    raised_signals,
    score_of,
)
from schemas.records import ContactFacts
from tests.warehouse.kpi_fixtures import (
    DAY,
    contact,
    handled_call,
    refreshed,
    settings,
    stream_journeys,
    survey,
    utc,
)


@dataclass
class Case:
    contacts: list[ContactFacts]
    expected: set[str]
    surveys: list[dict[str, Any]] = field(default_factory=list)
    opt_outs: list[str] = field(default_factory=list)  # times of opt-outs of "x"
    churn: dict[str, Any] = field(default_factory=dict)
    flagged: bool | None = None  # checked when given


def call(contact_id: str, start: str, **fields: Any) -> ContactFacts:
    return handled_call(contact_id, start, customer="x", **fields)


def abandon(contact_id: str, start: str) -> ContactFacts:
    return contact(contact_id, start, customer="x", abandoned=60.0)


def rated(**scores: int) -> Case:
    return Case(
        [call("c1", "2026-01-05T09:00:00")],
        set(),
        surveys=[survey("s1", "c1", "2026-01-05T09:30:00", **scores)],
    )


def expecting(case: Case, *signals: str) -> Case:
    case.expected = set(signals)
    return case


# An escalated call wrapped up at W (it starts 340 s before), and what follows it.
ESCALATED_AT = "2026-01-03T09:00:00"  # wrapped up 2026-01-03T09:05:40
FOLLOW_UP_48H = "2026-01-05T09:00:00"  # its resolved follow-up is wrapped up exactly W + 48 h
ONE_DAY = {"lookback_days": 1}  # the window of 5 Jan is [5 Jan 00:00, 6 Jan 00:00)

CASES = {
    "nps 6 is a detractor": expecting(rated(nps=6), "nps_detractor"),
    "nps 7 is not": rated(nps=7),
    "csat 2 is low": expecting(rated(csat=2), "csat_1_2"),
    "csat 3 is not": rated(csat=3),
    "ces 3 is low": expecting(rated(ces=3), "ces_1_3"),
    "ces 4 is not": rated(ces=4),
    "one abandon raises nothing": Case([abandon("a1", "2026-01-05T09:00:00")], set()),
    "two abandons": Case(
        [abandon("a1", "2026-01-05T09:00:00"), abandon("a2", "2026-01-05T10:00:00")],
        {"abandons"},
    ),
    "a short abandon does not count": Case(
        [
            abandon("a1", "2026-01-05T09:00:00"),
            contact("a2", "2026-01-05T10:00:00", customer="x", abandoned=4.999),
        ],
        set(),
    ),
    "a journey of two unresolved contacts": Case(
        [
            call("j1", "2026-01-05T09:00:00", disposition="unresolved"),
            call("j2", "2026-01-05T10:00:00", disposition="unresolved"),
        ],
        set(),
    ),
    "a journey of three, the last unresolved": Case(
        [
            call("j1", "2026-01-05T09:00:00", disposition="unresolved"),
            call("j2", "2026-01-05T10:00:00", disposition="resolved"),
            call("j3", "2026-01-05T11:00:00", disposition="follow_up"),
        ],
        {"unresolved_journey"},
    ),
    "a journey of three, the last resolved": Case(
        [
            call("j1", "2026-01-05T09:00:00", disposition="unresolved"),
            call("j2", "2026-01-05T10:00:00", disposition="unresolved"),
            call("j3", "2026-01-05T11:00:00", disposition="resolved"),
        ],
        set(),
    ),
    "escalated, resolved 48 h later to the millisecond": Case(
        [call("e1", ESCALATED_AT, disposition="escalated"), call("r1", FOLLOW_UP_48H)],
        set(),
    ),
    "escalated, resolved 48 h and a millisecond later": Case(
        [
            call("e1", ESCALATED_AT, disposition="escalated"),
            call("r1", FOLLOW_UP_48H + ".001"),
        ],
        {"escalation_unresolved_48h"},
    ),
    "escalated, its 48 h end exactly at the end of the day": Case(
        [call("e1", "2026-01-03T23:54:20", disposition="escalated")],
        {"escalation_unresolved_48h"},
    ),
    "escalated, its 48 h end a millisecond after the day": Case(
        [call("e1", "2026-01-03T23:54:20.001", disposition="escalated")],
        set(),
    ),
    "cancellation intent": Case(
        [call("k1", "2026-01-05T09:00:00", cancellation_intent=True)], {"cancellation_intent"}
    ),
    "a contact at the window's first millisecond": Case(
        [call("k1", "2026-01-05T00:00:00", cancellation_intent=True)],
        {"cancellation_intent"},
        churn=ONE_DAY,
    ),
    "a contact a millisecond before the window": Case(
        [call("k1", "2026-01-04T23:59:59.999", cancellation_intent=True)], set(), churn=ONE_DAY
    ),
    "a contact at the window's last millisecond": Case(
        [call("k1", "2026-01-05T23:59:59.999", cancellation_intent=True)],
        {"cancellation_intent"},
        churn=ONE_DAY,
    ),
    "a contact at the window's end": Case(
        [call("k1", "2026-01-06T00:00:00", cancellation_intent=True)], set(), churn=ONE_DAY
    ),
    "a survey completed at the day's last millisecond": Case(
        [call("c1", "2026-01-05T09:00:00")],
        {"nps_detractor"},
        surveys=[survey("s1", "c1", "2026-01-05T23:59:59.999", nps=0)],
    ),
    "a survey completed at the day's end": Case(
        [call("c1", "2026-01-05T09:00:00")],
        set(),
        surveys=[survey("s1", "c1", "2026-01-06T00:00:00", nps=0)],
    ),
    "an opt-out at the window's first millisecond": Case(
        [call("c1", "2026-01-05T09:00:00")],
        {"opted_out"},
        opt_outs=["2026-01-05T00:00:00"],
        churn=ONE_DAY,
    ),
    "an opt-out a millisecond before the window": Case(
        [call("c1", "2026-01-05T09:00:00")],
        set(),
        opt_outs=["2026-01-04T23:59:59.999"],
        churn=ONE_DAY,
    ),
    "a score at the threshold is flagged": Case(
        [call("k1", "2026-01-05T09:00:00", cancellation_intent=True)],
        {"cancellation_intent", "opted_out"},
        opt_outs=["2026-01-05T10:00:00"],
        flagged=True,
    ),
    "a score a point under the threshold is not": Case(
        [call("k1", "2026-01-05T09:00:00", cancellation_intent=True)],
        {"cancellation_intent", "opted_out"},
        opt_outs=["2026-01-05T10:00:00"],
        churn={"threshold": 51},
        flagged=False,
    ),
}


def opt_out_event(n: int, at: str) -> dict[str, Any]:
    return {
        "event_id": f"o{n}",
        "event_type": "customer.opted_out",
        "occurred_at": utc(at),
        "tenant": "acme",
        "customer_ids": ["phone:x"],
    }


def mart_row(case: Case) -> tuple[int, bool, list[str]] | None:
    con = refreshed(
        case.contacts,
        surveys=case.surveys,
        events=[opt_out_event(n, at) for n, at in enumerate(case.opt_outs)],
        date_from=DAY - timedelta(days=3),
        knobs=settings(churn=case.churn),
    )
    row = con.execute(
        "select score, flagged, signals from mart_churn_risk "
        "where as_of_day = ? and customer_key = 'x'",
        [DAY],
    ).fetchone()
    return None if row is None else (row[0], row[1], list(row[2]))


def stream_facts(case: Case) -> CustomerFacts:
    """The customer as the stream's churn book gathers it (streams.churn.ChurnBook.facts)."""
    journeys = [j.contact_ids for j in stream_journeys(case.contacts)]
    return CustomerFacts(
        {c.contact_id: ContactFact.of(c) for c in case.contacts},
        journeys,
        [
            SurveyFact(s["contact_id"], epoch_ms(s["survey_at"]), s["nps"], s["csat"], s["ces"])
            for s in case.surveys
        ],
        [epoch_ms(utc(at)) for at in case.opt_outs],
    )


END_OF_DAY = round(datetime(2026, 1, 6, tzinfo=UTC).timestamp() * 1000)


@pytest.mark.parametrize("name", list(CASES))
def test_both_scorers_raise_exactly_the_expected_signals(name: str) -> None:
    case = CASES[name]
    churn = settings(churn=case.churn).churn
    since = END_OF_DAY - lookback_ms(churn)
    raised = raised_signals(stream_facts(case), since, END_OF_DAY)
    live = score_of(raised, churn)
    assert set(raised) == case.expected
    row = mart_row(case)
    if not case.expected:
        assert row is None
        assert (live.score, live.flagged) == (0, False)
        return
    assert row == (live.score, live.flagged, [signal for signal, _ in live.signals])
    assert set(row[2]) == case.expected
    if case.flagged is not None:
        assert row[1] is case.flagged


def test_the_mart_writes_no_threshold_of_its_own() -> None:
    """Every threshold reaches the SQL as a parameter from schemas.churn."""
    from warehouse.kpi_marts import mart_sql

    sql = mart_sql("mart_churn_risk")
    body = "\n".join(line.split("--")[0] for line in sql.splitlines())
    for parameter in ("$nps_max", "$csat_max", "$ces_max", "$abandons_min", "$escalation_ms"):
        assert parameter in body
    for literal in ("<= 6", "<= 2", "<= 3", ">= 2", ">= 3", "48 *", "3600000"):
        assert literal not in body
