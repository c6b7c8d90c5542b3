"""Live churn scoring in the customer stage (streams.churn), over plain stores (no broker):
when alerts fire, with what, and when they do not (cool-down, re-alert rise, the window, an
escalation's 48 h, merges), and that a replay gives the same alert ids. Messages are built with
the ingest side's own item functions, so the format between the stages is what is tested."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from schemas.records import ContactFacts
from schemas.times import format_utc, parse_rfc3339
from schemas.validation import record_problems
from streams.churn import alert_id
from streams.customers import CustomerStage
from streams.ingest import churn_item, identity_item, identity_messages
from tests.pii import keyed_settings

T0 = parse_rfc3339("2026-01-05T09:00:00Z")
HOUR, DAY = 3600.0, 86400.0
CREATED = parse_rfc3339("2026-11-30T12:00:00Z")  # the wall clock, pinned
A, B = "customer_id:" + "a" * 32, "account_id:" + "b" * 32


def settings(**churn: Any):
    return keyed_settings(churn=churn)


def new_stage(**churn: Any) -> CustomerStage:
    return CustomerStage(settings(**churn), {}, {}, {}, {}, now=lambda: CREATED)


def call(contact_id: str, at: float, ids: list[str], **fields: Any) -> ContactFacts:
    """A handled inbound call starting ``at`` seconds after T0, wrapped up 340 s later."""
    fields = {"disposition": "resolved", **fields}
    return ContactFacts(
        contact_id=contact_id,
        tenant="acme",
        channel="voice",
        direction="inbound",
        customer_ids=sorted(ids),
        started_at=format_utc(T0 + at),
        first_queued_at=format_utc(T0 + at),
        answered_at=format_utc(T0 + at + 10),
        ended_at=format_utc(T0 + at + 310),
        wrapped_up_at=format_utc(T0 + at + 340),
        status="closed",
        **fields,
    )


def contact_item(facts: ContactFacts, event_id: str | None = None):
    end = round(parse_rfc3339(facts.wrapped_up_at) * 1000)
    trigger = (event_id or f"{facts.contact_id}-wrapped", end)
    return identity_item("contact", facts.tenant, facts.to_dict(), trigger)


def event(event_type: str, event_id: str, at: float, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "event_type": event_type,
        "tenant": "acme",
        "ts": round((T0 + at) * 1000) / 1000,
        "occurred_at": format_utc(T0 + at),
        "customer_ids": [],
        **fields,
    }


def survey_item(event_id: str, contact_id: str, at: float, **scores: int):
    return churn_item(
        event("survey.completed", event_id, at, contact_id=contact_id, attributes=scores)
    )


def opt_out_item(event_id: str, at: float, ids: list[str]):
    return churn_item(event("customer.opted_out", event_id, at, customer_ids=ids))


def link_item(event_id: str, at: float, ids: list[str]):
    return identity_item("link", "acme", event("identity.linked", event_id, at, customer_ids=ids))


def run(stage: CustomerStage, *messages: list) -> list[dict[str, Any]]:
    """Each argument is one identity message (a list of items); the alerts, decoded."""
    packed = [identity_messages(items)[0][1] for items in messages]
    out = stage.process(packed)
    alerts = [orjson.loads(value) for _, value in out.alerts]
    assert [key for key, _ in out.alerts] == [a["customer_key"].encode() for a in alerts]
    return alerts


def at_risk(stage: CustomerStage) -> list[dict[str, Any]]:
    """A's cancellation intent (40), then a detractor survey of that call (30): flagged at 70."""
    assert run(stage, [contact_item(call("c1", 0, [A], cancellation_intent=True))]) == []
    return run(stage, [survey_item("s1", "c1", 600, nps=3)])


def test_becoming_flagged_emits_one_alert_with_its_signals_and_evidence() -> None:
    [alert] = at_risk(new_stage())
    assert record_problems("alert", alert) == []
    assert alert == {
        "alert_id": alert_id("acme", A, "s1", "flagged"),
        "tenant": "acme",
        "customer_key": A,
        "customer_ids": [A],
        "reason": "flagged",
        "score": 70,
        "previous_score": 40,
        "threshold": 50,
        "signals": [
            {
                "signal": "cancellation_intent",
                "weight": 40,
                "evidence": [{"contact_id": "c1", "at": "2026-01-05T09:00:00.000Z"}],
            },
            {
                "signal": "nps_detractor",
                "weight": 30,
                "evidence": [{"contact_id": "c1", "at": "2026-01-05T09:10:00.000Z"}],
            },
        ],
        "trigger_event_id": "s1",
        "trigger_occurred_at": "2026-01-05T09:10:00.000Z",
        "created_at": "2026-11-30T12:00:00.000Z",
        "knob_set": alert["knob_set"],
        "schema_version": 1,
    }
    from warehouse.kpi_marts import knob_set_id, mart_knobs

    assert alert["knob_set"] == knob_set_id(mart_knobs(settings()))


def test_the_alert_id_is_the_contracts_hash() -> None:
    import hashlib

    digest = hashlib.sha256(f"acme|{A}|s1|flagged".encode()).hexdigest()
    assert alert_id("acme", A, "s1", "flagged") == "al-" + digest[:24]


def test_a_replay_of_the_same_messages_gives_the_same_ids_and_a_stage_that_has_them_none() -> None:
    first = new_stage()
    alerts = at_risk(first)
    again = at_risk(new_stage())  # a crash before the state was written: replayed from scratch
    assert [a["alert_id"] for a in again] == [a["alert_id"] for a in alerts]
    replay = [survey_item("s1", "c1", 600, nps=3)]  # the same survey again, state kept
    assert run(first, replay, [contact_item(call("c1", 0, [A], cancellation_intent=True))]) == []


def test_nothing_fires_under_the_threshold_and_no_second_alert_while_flagged() -> None:
    stage = new_stage()
    assert run(stage, [contact_item(call("c1", 0, [A], cancellation_intent=True))]) == []
    at_risk(stage)
    # Still flagged, risen by less than churn.realert_rise (an opt-out weighs 10, rise 11).
    stage = new_stage(realert_rise=11)
    at_risk(stage)
    assert run(stage, [opt_out_item("o1", 2 * DAY, [A])]) == []


@pytest.mark.parametrize(("rise", "alerted"), [(11, False), (10, True)])
def test_a_rise_of_realert_rise_while_flagged_alerts_again(rise: int, alerted: bool) -> None:
    stage = new_stage(realert_rise=rise)
    at_risk(stage)
    alerts = run(stage, [opt_out_item("o1", 2 * DAY, [A])])  # after the 24 h cool-down
    if not alerted:
        assert alerts == []
        return
    [alert] = alerts
    assert (alert["reason"], alert["score"], alert["previous_score"]) == ("rose", 80, 70)
    assert alert["alert_id"] == alert_id("acme", A, "o1", "rose")
    assert [s["signal"] for s in alert["signals"]] == [
        "cancellation_intent",
        "nps_detractor",
        "opted_out",
    ]
    assert alert["signals"][2]["evidence"] == [{"contact_id": None, "at": format_utc(T0 + 2 * DAY)}]
    assert record_problems("alert", alert) == []


@pytest.mark.parametrize(("after", "alerted"), [(24 * HOUR - 0.001, False), (24 * HOUR, True)])
def test_no_alert_within_the_cool_down_of_the_last_one(after: float, alerted: bool) -> None:
    stage = new_stage()
    [first] = at_risk(stage)
    flagged_at = parse_rfc3339(first["trigger_occurred_at"]) - T0
    alerts = run(stage, [opt_out_item("o1", flagged_at + after, [A])])
    assert [a["reason"] for a in alerts] == (["rose"] if alerted else [])


def test_the_cool_down_is_a_knob() -> None:
    stage = new_stage(cooldown_hours=1)
    at_risk(stage)
    [alert] = run(stage, [opt_out_item("o1", 600 + HOUR, [A])])
    assert alert["reason"] == "rose"


def other_customer_at(seconds: float, contact_id: str = "z1") -> list:
    """An unrelated customer's contact wrapped up ``seconds`` after T0: moves the clock."""
    return [contact_item(call(contact_id, seconds - 340, ["customer_id:" + "f" * 32]))]


@pytest.mark.parametrize(("after_ms", "score"), [(-1, 70), (0, 30)])
def test_a_fact_leaves_the_window_a_look_back_after_its_contact_started(
    after_ms: int, score: int
) -> None:
    """c1 started at T0: with the clock at T0 + 30 days - 1 ms it still counts, at + 30 days it
    no longer does (the survey, completed later, counts with its contact)."""
    stage = new_stage()
    at_risk(stage)
    run(stage, [survey_item("s2", "c2", 5 * DAY, nps=0)], [contact_item(call("c2", 5 * DAY, [A]))])
    run(stage, other_customer_at(30 * DAY + after_ms / 1000))
    assert stage.churn.store[f"a|acme|{A}"]["score"] == score


def test_a_customer_whose_signals_left_the_window_is_flagged_afresh_later() -> None:
    stage = new_stage()
    at_risk(stage)
    run(stage, other_customer_at(31 * DAY))
    assert f"a|acme|{A}" not in stage.churn.store  # score 0, cool-down over: forgotten
    assert "s|acme|c1" not in stage.churn.store  # the survey left the window: pruned
    later = 32 * DAY
    run(stage, [contact_item(call("c9", later, [A], cancellation_intent=True))])
    [alert] = run(stage, [survey_item("s9", "c9", later + 600, nps=1)])
    assert (alert["reason"], alert["previous_score"], alert["score"]) == ("flagged", 40, 70)


@pytest.mark.parametrize(("after_ms", "raised"), [(-1, False), (0, True)])
def test_an_unresolved_escalation_counts_once_48_hours_passed_and_alerts_then(
    after_ms: int, raised: bool
) -> None:
    stage = new_stage(threshold=20)
    escalated = call("e1", 0, [A], disposition="escalated")  # wrapped up at T0 + 340 s
    assert run(stage, [contact_item(escalated)]) == []
    deadline = 340 + 48 * HOUR
    alerts = run(stage, other_customer_at(deadline + after_ms / 1000))
    if not raised:
        assert alerts == []
        return
    [alert] = alerts
    assert [s["signal"] for s in alert["signals"]] == ["escalation_unresolved_48h"]
    assert alert["trigger_event_id"] == "z1-wrapped"  # the event that moved the clock past it


def test_a_resolved_contact_within_48_hours_clears_the_escalation() -> None:
    stage = new_stage(threshold=20)
    run(stage, [contact_item(call("e1", 0, [A], disposition="escalated"))])
    run(stage, [contact_item(call("r1", 47 * HOUR, [A]))])  # wrapped up within the 48 h
    assert run(stage, other_customer_at(50 * HOUR)) == []
    assert f"a|acme|{A}" not in stage.churn.store


def test_a_merge_re_scores_the_customer_it_makes() -> None:
    stage = new_stage()
    assert run(stage, [contact_item(call("c1", 0, [A], cancellation_intent=True))]) == []
    assert run(stage, [contact_item(call("c2", HOUR, [B]))]) == []
    assert run(stage, [survey_item("s2", "c2", HOUR + 600, nps=2)]) == []  # B: 30
    [alert] = run(stage, [link_item("l1", 2 * HOUR, [A, B])])
    assert alert["customer_key"] == B  # the smallest identifier of the merged set
    assert alert["customer_ids"] == sorted([A, B])
    assert (alert["reason"], alert["score"], alert["trigger_event_id"]) == ("flagged", 70, "l1")
    assert f"a|acme|{A}" not in stage.churn.store  # A's customer no longer exists


def test_a_split_re_scores_the_customer_it_takes_contacts_from() -> None:
    """A phone linked to customer A raises A's score through its calls; once a second account
    shares the phone it becomes a hub (one account per set): its calls are nobody's, and A is
    re-scored without them, so its next detractor survey alone does not flag it again."""
    phone, other = "phone:" + "c" * 32, "customer_id:" + "d" * 32
    stage = new_stage()
    run(stage, [link_item("l1", 0, [A, phone])])
    run(stage, [contact_item(call("c1", 60, [phone], cancellation_intent=True))])
    [alert] = run(stage, [survey_item("s1", "c1", 600, nps=2)])
    assert (alert["customer_key"], alert["score"]) == (A, 70)

    assert run(stage, [link_item("l2", HOUR, [other, phone])]) == []  # the phone: a hub
    assert stage.churn.store[f"a|acme|{A}"]["score"] == 0  # c1 is no longer A's

    run(stage, [contact_item(call("c2", 2 * HOUR, [A]))])
    assert run(stage, [survey_item("s2", "c2", 2 * HOUR + 600, nps=2)]) == []
    assert stage.churn.store[f"a|acme|{A}"]["score"] == 30  # the detractor alone


def test_an_opt_out_counts_for_the_customer_of_its_identifier_and_publishes_its_key() -> None:
    stage = new_stage()
    run(stage, [contact_item(call("c1", 0, [A], cancellation_intent=True))])
    packed = identity_messages([opt_out_item("o1", HOUR, [A]), opt_out_item("o2", HOUR, [B])])
    out = stage.process([value for _, value in packed])
    [alert] = [orjson.loads(value) for _, value in out.alerts]
    assert (alert["score"], alert["signals"][1]["signal"]) == (50, "opted_out")
    published = {orjson.loads(value)["identifier"] for _, value in out.customers}
    assert B in published  # the warehouse can attribute B's opt-out


def test_a_survey_before_its_contact_record_is_scored_when_the_contact_comes() -> None:
    stage = new_stage()
    assert run(stage, [survey_item("s1", "c1", 600, nps=3)]) == []
    [alert] = run(stage, [contact_item(call("c1", 0, [A], cancellation_intent=True))])
    assert (alert["score"], alert["trigger_event_id"]) == (70, "c1-wrapped")


def test_anonymous_contacts_raise_nothing() -> None:
    stage = new_stage(threshold=10)
    assert run(stage, [contact_item(call("c1", 0, [], cancellation_intent=True))]) == []
    assert not any(key.startswith("a|") for key in stage.churn.store)


def test_the_book_rebuilds_its_schedules_from_the_store_after_a_restart() -> None:
    stores: list[dict] = [{}, {}, {}, {}]
    stage = CustomerStage(settings(threshold=20), *stores, now=lambda: CREATED)
    run(stage, [contact_item(call("e1", 0, [A], disposition="escalated"))])
    restarted = CustomerStage(settings(threshold=20), *stores, now=lambda: CREATED)
    [alert] = run(restarted, other_customer_at(340 + 48 * HOUR))
    assert alert["signals"][0]["signal"] == "escalation_unresolved_48h"
