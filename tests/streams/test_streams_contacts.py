import json
import math
import random
from dataclasses import fields

import pytest

from schemas.records import ContactFacts
from streams.contacts import (
    ContactFold,
    ContactRecord,
    compact_event,
    fold_contact,
    is_contact_event,
)
from tests.streams.conftest import T0

IDLE = 4 * 3600
SHORT = 5.0
NO_WATERMARK = -math.inf


def make_fold(store=None):
    return ContactFold(
        {} if store is None else store, short_abandon_seconds=SHORT, idle_timeout_seconds=IDLE
    )


def feed(fold, events, watermark=NO_WATERMARK):
    records = []
    for event in events:
        records += fold.apply([event], watermark)
    return records


def voice_contact(ev):
    return [
        ev(
            "contact.started",
            0,
            direction="inbound",
            customer_ids=["phone:b", "customer_id:a"],
            attributes={"reason": "billing", "entry_point": "main"},
        ),
        ev("ivr.message_played", 2, channel=None, attributes={"kind": "outage"}),
        ev("contact.queued", 10, queue="q1"),
        ev("contact.answered", 25, agent_id="a1"),
        ev("contact.hold_started", 40),
        ev("contact.hold_ended", 70),
        ev("contact.transferred", 80, attributes={"mode": "warm", "tier": 2, "to_queue": "q2"}),
        ev("contact.queued", 85, queue="q2"),
        ev("contact.answered", 90, agent_id="a2"),
        ev("contact.hold_started", 100),
        ev("contact.ended", 130, attributes={"ended_by": "customer"}),
        ev(
            "contact.wrapped_up",
            160,
            customer_ids=["email:c"],
            attributes={
                "disposition": "resolved",
                "reason": "billing_dispute",
                "ticket_id": "T-1",
                "resolvable_in_one_contact": False,
            },
        ),
    ]


EXPECTED_VOICE = ContactFacts(
    contact_id="c1",
    tenant="acme",
    channel="voice",
    direction="inbound",
    customer_ids=["customer_id:a", "email:c", "phone:b"],
    reason="billing_dispute",
    queues=["q1", "q2"],
    agents=["a1", "a2"],
    started_at="2026-01-05T09:00:00.000Z",
    first_queued_at="2026-01-05T09:00:10.000Z",
    answered_at="2026-01-05T09:00:25.000Z",
    ended_at="2026-01-05T09:02:10.000Z",
    wrapped_up_at="2026-01-05T09:02:40.000Z",
    abandoned_at=None,
    talk_seconds=45.0,  # (130 - 25) - hold
    hold_seconds=60.0,  # 40 -> 70, then 100 -> ended at 130
    acw_seconds=30.0,
    transfers=1,
    warm_transfers=1,
    cold_transfers=0,
    max_tier=2,
    outage_message_heard=True,
    disposition="resolved",
    resolvable_in_one_contact=False,
    ticket_id="T-1",
    status="closed",
)


def test_full_voice_contact(ev):
    records = feed(make_fold(), voice_contact(ev))
    assert len(records) == 1
    assert records[0].version == 1
    assert records[0].facts == EXPECTED_VOICE


@pytest.mark.parametrize("seed", range(5))
def test_shuffled_arrival_gives_the_same_final_record(ev, json_store, seed):
    events = voice_contact(ev)
    random.Random(seed).shuffle(events)
    store = json_store()
    records = feed(make_fold(store), events)
    assert records[-1].facts == EXPECTED_VOICE
    assert [r.version for r in records] == list(range(1, len(records) + 1))


def test_batch_emits_one_record_for_its_final_state(ev):
    records = make_fold().apply(voice_contact(ev), NO_WATERMARK)
    assert [(r.facts, r.version) for r in records] == [(EXPECTED_VOICE, 1)]


def test_duplicate_events_change_nothing_and_emit_nothing(ev):
    fold = make_fold()
    events = voice_contact(ev)
    feed(fold, events)
    assert feed(fold, [events[4], events[-1]]) == []
    assert fold.store["c1"]["version"] == 1
    assert len(fold.store["c1"]["events"]) == len(events)


def test_open_contact_emits_nothing(ev):
    assert feed(make_fold(), voice_contact(ev)[:-1]) == []


def test_holds_talk_and_acw_arithmetic(ev):
    events = [
        ev("contact.started", 0, direction="inbound"),
        ev("contact.queued", 1, queue="q"),
        ev("contact.answered", 3.5, agent_id="a"),
        ev("contact.hold_started", 10),
        ev("contact.hold_ended", 12.25),
        ev("contact.hold_started", 20),
        ev("contact.hold_ended", 21.001),
        ev("contact.ended", 60),
        ev("contact.wrapped_up", 60.5, attributes={"disposition": "unresolved"}),
    ]
    facts = feed(make_fold(), events)[-1].facts
    assert facts.hold_seconds == 3.251
    assert facts.talk_seconds == 53.249
    assert facts.acw_seconds == 0.5
    assert facts.resolvable_in_one_contact is True
    assert facts.transfers == 0
    assert facts.max_tier == 1


def test_unhandled_contact_has_no_talk_time(ev):
    events = [
        ev("contact.started", 0),
        ev("contact.queued", 1, queue="q"),
        ev("contact.abandoned", 40),
    ]
    facts = feed(make_fold(), events)[-1].facts
    assert (facts.talk_seconds, facts.acw_seconds, facts.hold_seconds) == (None, None, 0.0)


def test_cold_transfers_and_tiers(ev):
    events = [
        ev("contact.started", 0),
        ev("contact.answered", 1, agent_id="a"),
        ev("contact.transferred", 2, attributes={"mode": "cold", "tier": 3}),
        ev("contact.transferred", 3, attributes={"mode": "cold"}),
        ev("contact.transferred", 4, attributes={"mode": "warm", "tier": 2}),
        ev("contact.ended", 5),
        ev("contact.wrapped_up", 6, attributes={"disposition": "escalated"}),
    ]
    facts = feed(make_fold(), events)[-1].facts
    assert (facts.transfers, facts.warm_transfers, facts.cold_transfers) == (3, 1, 2)
    assert facts.max_tier == 3


@pytest.mark.parametrize(("after", "short"), [(4.999, True), (5.0, False), (30, False)])
def test_short_abandon_threshold(ev, after, short):
    events = [
        ev("contact.started", 0),
        ev("contact.queued", 10, queue="q"),
        ev("contact.abandoned", 10 + after),
    ]
    facts = feed(make_fold(), events)[-1].facts
    assert facts.abandoned is True
    assert facts.short_abandon is short
    assert facts.status == "closed"


def test_deflection_closes_with_its_cause(ev):
    events = [
        ev("contact.started", 0, direction="inbound", attributes={"reason": "outage"}),
        ev("ivr.message_played", 1, attributes={"kind": "advice"}),
        ev("contact.deflected", 30, attributes={"cause": "front_end_message"}),
    ]
    facts = feed(make_fold(), events)[-1].facts
    assert (facts.deflected, facts.deflection_cause) == (True, "front_end_message")
    assert facts.outage_message_heard is False
    assert facts.status == "closed"
    assert facts.reason == "outage"


def chat(ev, reason, texts_intent, wrap_reason=None):
    events = [ev("contact.started", 0, channel="chat", attributes={"reason": reason})]
    for i, intent in enumerate(texts_intent):
        events.append(
            ev(
                "message.received",
                1 + i,
                channel="chat",
                attributes={"author": "customer", "cancellation_intent": intent},
            )
        )
    attributes = {"disposition": "resolved"}
    if wrap_reason:
        attributes["reason"] = wrap_reason
    events.append(ev("contact.wrapped_up", 50, channel="chat", attributes=attributes))
    return events


def test_cancellation_intent_from_reason_or_messages(ev):
    def intent(events):
        return feed(make_fold(), events)[-1].facts.cancellation_intent

    assert intent(chat(ev, "cancellation", [])) is True
    assert intent(chat(ev, "billing", [False, True])) is True
    assert intent(chat(ev, "billing", [False, False])) is False
    assert intent(chat(ev, "cancellation_fee", [])) is False
    # The wrap-up reason overrides the started reason, intent follows the final reason.
    assert intent(chat(ev, "billing", [], wrap_reason="cancellation")) is True
    assert intent(chat(ev, "cancellation", [], wrap_reason="billing")) is False


def test_late_survey_emits_a_new_version_and_an_identical_one_does_not(ev):
    fold = make_fold()
    feed(fold, voice_contact(ev))
    survey = ev("survey.completed", 3600, attributes={"nps": 3, "csat": 2})
    [record] = feed(fold, [survey])
    assert record.version == 2
    assert (record.facts.nps, record.facts.csat, record.facts.ces) == (3, 2, None)
    again = ev("survey.completed", 3700, event_id="other", attributes={"nps": 3})
    assert feed(fold, [again]) == []
    changed = ev("survey.completed", 3800, event_id="third", attributes={"ces": 6, "nps": 9})
    [record] = feed(fold, [changed])
    assert (record.version, record.facts.nps, record.facts.csat, record.facts.ces) == (3, 9, 2, 6)


def test_idle_timeout_makes_incomplete_and_a_late_event_reopens(ev):
    fold = make_fold()
    events = voice_contact(ev)[:4]  # started .. answered at 25 s, never closes
    feed(fold, events)
    last = events[-1]["ts"]
    assert fold.sweep(last + IDLE - 0.001) == []
    [record] = fold.sweep(last + IDLE)
    assert (record.version, record.facts.status) == (1, "incomplete")
    assert record.facts.answered_at == "2026-01-05T09:00:25.000Z"
    assert fold.sweep(last + IDLE + 3600) == []
    # A late event older than the deadline updates it but it stays incomplete ...
    assert fold.apply([ev("contact.hold_started", 26)], last + IDLE + 3600) == []  # no change
    [record] = fold.apply([ev("contact.queued", 20, queue="q0")], last + IDLE + 3600)
    assert (record.version, record.facts.status) == (2, "incomplete")
    assert record.facts.queues == ["q1", "q0"]
    # ... one that moves the deadline past the watermark re-opens it ...
    [record] = fold.apply([ev("contact.ended", 5 * 3600)], last + IDLE + 3600)
    assert (record.version, record.facts.status) == (3, "open")
    assert record.facts.ended_at == "2026-01-05T14:00:00.000Z"
    # ... and it closes normally.
    [record] = fold.apply(
        [ev("contact.wrapped_up", 5 * 3600 + 9, attributes={"disposition": "resolved"})],
        last + IDLE + 3600,
    )
    assert (record.version, record.facts.status) == (4, "closed")
    assert fold.sweep(math.inf) == []


def test_sweep_follows_a_deadline_moved_by_later_events(ev):
    fold = make_fold()
    feed(fold, [ev("contact.started", 0)])
    feed(fold, [ev("contact.queued", 1000, queue="q")])
    start = ev("x", 0)["ts"]
    assert fold.sweep(start + IDLE) == []
    [record] = fold.sweep(start + 1000 + IDLE)
    assert record.facts.status == "incomplete"


def test_restart_reschedules_open_contacts_from_the_store(ev, json_store):
    store = json_store()
    feed(make_fold(store), [ev("contact.started", 0), ev("contact.started", 0, contact_id="c2")])
    feed(make_fold(store), [ev("contact.abandoned", 1, contact_id="c2")])
    restarted = make_fold(store)
    records = restarted.sweep(math.inf)
    assert [(r.facts.contact_id, r.facts.status) for r in records] == [("c1", "incomplete")]


def test_fold_produces_exactly_the_contact_facts_fields(ev):
    state = {"tenant": "acme", "channel": "voice", "events": [], "last_ms": -1}
    for event in voice_contact(ev):
        state["events"].append(compact_event(event))
    state["events"].sort()
    facts = fold_contact("c1", state, 5000, "closed")
    assert list(facts) == [f.name for f in fields(ContactFacts)]


def test_compact_event_keeps_only_what_the_record_needs(ev):
    event = ev(
        "contact.queued",
        10,
        queue="q1",
        customer_ids=["phone:x"],
        attributes={"skill": "fr", "priority": 2},
    )
    assert compact_event(event) == [
        round(event["ts"] * 1000),
        3,
        event["event_id"],
        {"queue": "q1", "customer_ids": ["phone:x"]},
    ]
    assert compact_event(ev("contact.ended", 1))[3] is None


def test_only_contact_events_are_folded(ev):
    assert is_contact_event(ev("survey.completed", 0))
    assert is_contact_event(ev("ivr.message_played", 0))
    assert not is_contact_event(ev("outbound.attempted", 0))
    assert not is_contact_event(ev("identity.linked", 0, contact_id=None))


def test_reload_after_a_table_recovery_schedules_what_the_store_now_holds(ev):
    store = {}
    fold = make_fold(store)
    recovered = {}
    make_fold(recovered).apply([ev("contact.started", 0)], NO_WATERMARK)
    store.update(recovered)
    assert fold.sweep(math.inf) == []
    fold.reload()
    [record] = fold.sweep(math.inf)
    assert record.facts.status == "incomplete"


def test_record_round_trips_through_json(ev):
    [record] = feed(make_fold(), voice_contact(ev))
    data = json.loads(json.dumps(record.to_dict()))
    assert data["version"] == 1 and data["talk_seconds"] == 45.0
    assert ContactRecord.from_dict(data) == record


# -- retention ------------------------------------------------------------------------------

DAY = 86400
RETAIN = 3 * DAY


def retaining_fold(store):
    return ContactFold(
        store, short_abandon_seconds=SHORT, idle_timeout_seconds=IDLE, retention_seconds=RETAIN
    )


def short_contact(ev, contact_id, at):
    return [
        ev("contact.started", at, contact_id, direction="inbound"),
        ev("contact.queued", at + 1, contact_id, queue="q1"),
        ev("contact.abandoned", at + 30, contact_id),
    ]


def test_closed_contacts_are_pruned_once_the_watermark_passes_the_retention(ev, json_store):
    store = json_store()
    fold = retaining_fold(store)
    fold.apply(short_contact(ev, "old", 0) + short_contact(ev, "new", DAY), watermark=T0 + DAY)

    fold.sweep(T0 + 30 + RETAIN - 0.001)  # "old" ended at 30 s: one millisecond short
    assert set(store) == {"old", "new"}
    fold.sweep(T0 + 30 + RETAIN)

    assert set(store) == {"new"}
    assert fold.pruned == 1


def test_timed_out_contacts_are_pruned_and_open_ones_never(ev, json_store):
    store = json_store()
    fold = retaining_fold(store)
    fold.apply([ev("contact.started", 0, "timed-out")], watermark=T0)
    fold.apply([ev("contact.started", 10 * DAY, "open")], watermark=T0 + 10 * DAY - IDLE)

    records = fold.sweep(T0 + 10 * DAY - IDLE)  # "timed-out" times out, then is past the retention

    assert [r.facts.status for r in records] == ["incomplete"]
    assert set(store) == {"open"}


def test_a_late_event_keeps_the_contact_until_the_retention_after_it(ev, json_store):
    store = json_store()
    fold = retaining_fold(store)
    fold.apply(short_contact(ev, "c1", 0), watermark=T0)
    survey = ev("survey.completed", 2 * DAY, "c1", attributes={"csat": 5})

    [record] = fold.apply([survey], watermark=T0 + 2 * DAY)
    fold.sweep(T0 + 30 + RETAIN)  # the first expiry comes up, the survey moved it

    assert record.version == 2 and "c1" in store
    fold.sweep(T0 + 2 * DAY + RETAIN)
    assert "c1" not in store


def test_an_event_older_than_the_retention_of_an_unknown_contact_is_not_folded(ev, json_store):
    store = json_store()
    fold = retaining_fold(store)
    fold.apply(short_contact(ev, "c1", 0), watermark=T0)
    fold.sweep(T0 + 10 * DAY)
    assert "c1" not in store

    # A copy of its abandon arrives after the pruning: folding it alone would publish a
    # contact of one event, version 1, over the real one.
    records = fold.apply([ev("contact.abandoned", 30, "c1")], watermark=T0 + 10 * DAY)

    assert records == [] and "c1" not in store
    assert fold.too_late == 1
    recent = fold.apply(short_contact(ev, "c2", 10 * DAY - RETAIN + 1), watermark=T0 + 10 * DAY)
    assert [r.facts.contact_id for r in recent] == ["c2"]  # within the retention: folded


def test_reload_schedules_the_expiry_of_what_the_store_holds(ev, json_store):
    store = json_store()
    retaining_fold(store).apply(
        [*short_contact(ev, "closed", 0), ev("contact.started", 0, "unfinished")], watermark=T0
    )

    restarted = retaining_fold(store)
    restarted.sweep(T0 + RETAIN + DAY)

    assert set(store) == set()
    assert restarted.pruned == 2


def test_end_of_replay_flush_prunes_nothing(ev):
    fold = retaining_fold({})
    fold.apply(short_contact(ev, "c1", 0), watermark=T0)

    fold.sweep(math.inf)

    assert fold.pruned == 0 and "c1" in fold.store
