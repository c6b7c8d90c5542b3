"""What the simulated customers, agents and sources do, checked on the emitted events: identity
is recoverable, shared and junk identifiers never stand alone, intent words only come from
intent, planted churners are flagged, planted incomplete contacts can time out."""

from __future__ import annotations

from collections import defaultdict

import pytest

from schemas.identifiers import IDENTIFIER_KINDS, normalise
from schemas.settings import KpiSettings
from tests.pii import keyed_settings
from tests.pipelines import replay
from tests.pipelines.conftest import Run

SETTINGS = keyed_settings()
JUNK = {"anonymous", "", "unknown", "0000000000"}


@pytest.fixture(scope="module")
def events(small_run: Run) -> list[dict]:
    return replay.read(small_run.lines)[0]


@pytest.fixture(scope="module")
def day_events(default_day: Run) -> list[dict]:
    """The default day: large enough that every rare identifier case occurs."""
    return replay.read(default_day.lines)[0]


def customer_objects(events: list[dict]) -> list[dict]:
    return [e["customer"] for e in events if e.get("customer")]


def test_every_identifier_is_sent_with_a_customer_id_at_least_once(events) -> None:
    linked = set()
    used = set()
    for customer in customer_objects(events):
        usable = {(k, normalise(k, customer.get(k))) for k in IDENTIFIER_KINDS if k in customer}
        usable = {pair for pair in usable if pair[1] is not None}
        used |= usable
        if "customer_id" in customer:
            linked |= usable
    assert used == linked
    assert {kind for kind, _ in used} == {
        "customer_id", "phone", "email", "chat_visitor_id", "social_handle",
    }  # fmt: skip


def test_every_inbound_contact_resolves_to_one_customer(small_run: Run, events) -> None:
    customers = replay.Customers(events, SETTINGS.pii_key)
    for c in small_run.contacts:
        assert customers.of_contact(c["tenant"], c["contact_id"]) is not None, c["contact_id"]


def test_shared_identifiers_exist_and_always_travel_with_a_customer_id(day_events) -> None:
    events = day_events
    customers = replay.Customers(events, SETTINGS.pii_key)
    shared = {key for key, owners in customers.owners.items() if len(owners) >= 2}
    assert {kind for _, kind, _ in shared} == {"phone", "email"}
    for e in events:
        customer = e.get("customer") or {}
        for kind in ("phone", "email"):
            value = normalise(kind, customer.get(kind))
            if (e["tenant"], kind, value) in shared:
                assert "customer_id" in customer, e


def test_junk_identifiers_never_stand_alone(day_events) -> None:
    junk_objects = [c for c in customer_objects(day_events) if any(v in JUNK for v in c.values())]
    assert len({v for c in junk_objects for v in c.values() if v in JUNK}) == len(JUNK)
    for customer in junk_objects:
        assert any(normalise(k, v) is not None for k, v in customer.items()), customer


def test_intent_words_are_only_written_by_customers_with_intent(small_run: Run, events) -> None:
    intent = {c["contact_id"]: c["cancellation_intent"] for c in small_run.contacts}
    by_text: dict[str, bool] = defaultdict(bool)
    for e in events:
        text = (e.get("attributes") or {}).get("text") or (e.get("attributes") or {}).get(
            "comment", ""
        )
        author = (e.get("attributes") or {}).get("author")
        if author == "customer":
            by_text[e["contact_id"]] |= replay.has_intent(text)
        elif text:
            assert not replay.has_intent(text), e
    assert sum(by_text.values()) >= 3
    for contact_id, shows in by_text.items():
        if shows:
            assert intent[contact_id]
        elif intent[contact_id]:  # intent without words: it came with the reason
            reasons = {c["contact_id"]: c["reason"] for c in small_run.contacts}
            assert reasons[contact_id] == "cancellation"


def test_churn_risk_customers_recomputed_from_the_events(small_run: Run, events) -> None:
    truth = small_run.truth
    customers = replay.Customers(events, SETTINGS.pii_key)
    folded = {c["contact_id"]: c for c in small_run.contacts}
    signals: dict[str, set[str]] = defaultdict(set)
    abandons: dict[str, int] = defaultdict(int)
    for c in folded.values():
        if c["direction"] != "inbound":
            continue
        who = customers.of_contact(c["tenant"], c["contact_id"])
        if c["nps"] is not None and c["nps"] <= 6:
            signals[who].add("nps_detractor")
        if c["csat"] is not None and c["csat"] <= 2:
            signals[who].add("csat_1_2")
        if c["ces"] is not None and c["ces"] <= 3:
            signals[who].add("ces_1_3")
        if c["cancellation_intent"]:
            signals[who].add("cancellation_intent")
        abandons[who] += c["abandoned"] and not c["short_abandon"]
    for who, count in abandons.items():
        if count >= 2:
            signals[who].add("abandons")
    for run in replay.journeys(folded, customers, KpiSettings().repeat_window_days):
        if len(run) >= 3 and run[-1]["disposition"] != "resolved":
            signals[customers.of_contact(run[0]["tenant"], run[0]["contact_id"])].add(
                "unresolved_journey"
            )
    for e in events:
        if e["event_type"] == "customer.opted_out":
            signals[e["customer"]["customer_id"]].add("opted_out")
    weights = truth["settings"]["churn"]["weights"]
    scores = {who: min(100, sum(weights[s] for s in found)) for who, found in signals.items()}
    flagged = sorted(who for who, score in scores.items() if score >= 50)
    assert truth["churn_risk_customers"] == flagged
    assert {who: sorted(s["signals"]) for who, s in truth["churn_scores"].items()} == {
        who: sorted(found) for who, found in signals.items()
    }
    assert truth["planted_churn_customers"]
    assert set(truth["planted_churn_customers"]) <= set(flagged)
    assert set(flagged) - set(truth["planted_churn_customers"])  # others earn it too


def test_incomplete_contacts_never_close_and_start_early_enough(small_run: Run) -> None:
    stream = SETTINGS.stream
    end = replay.ms(small_run.truth["period"]["end"])
    margin = (stream.idle_timeout_seconds + stream.lateness_seconds) * 1000
    incomplete = [c for c in small_run.contacts if c["status"] == "incomplete"]
    assert [c["contact_id"] for c in incomplete] == small_run.truth["incomplete_contacts"]
    for c in incomplete:
        assert replay.ms(c["started_at"]) + margin + 2 * 3_600_000 <= end
        assert c["ended_at"] is not None and c["wrapped_up_at"] is None
        assert (c["disposition"], c["nps"], c["csat"], c["ces"]) == (None,) * 4


def test_outbound_calls_to_opted_out_customers_are_the_listed_violations(
    small_run: Run, events
) -> None:
    opted: dict[str, dict[str, int]] = defaultdict(dict)
    violations = []
    for e in events:
        if e["event_type"] == "customer.opted_out":
            scope = e["attributes"]["scope"]
            opted[e["customer"]["customer_id"]].setdefault(scope, e["_ms"])
        elif e["event_type"] == "contact.started" and e["direction"] == "outbound":
            who, campaign = e["customer"]["customer_id"], e["attributes"]["entry_point"]
            if {"all", campaign} & set(opted[who]):
                violations.append(e["contact_id"])
    assert [v["contact_id"] for v in small_run.truth["opt_out_violations"]] == violations
    assert violations
