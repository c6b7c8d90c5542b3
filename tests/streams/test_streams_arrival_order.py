"""Arrival order: results depend on event time, not on the order events arrive in within the
lateness (events.md). The same events are delivered in several seeded arrival orders, in
batches of random sizes (so reorderings cross batch boundaries), through the pure stages
(ingest per partition, then the customer stage over the identity topic); the final contacts
and journeys must be identical, and the KPIs are computed from nothing else."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.simulator.config import FaultRates, SimulationConfig
from pipelines.simulator.run import Simulation
from schemas.records import ContactFacts
from schemas.routing import routing_key
from schemas.times import format_utc, parse_rfc3339
from streams.customers import CustomerStage
from streams.ingest import PartitionIngest, RawMessage, identity_item, identity_messages
from tests.pii import keyed_settings
from tests.streams.conftest import JsonStore

SETTINGS = keyed_settings()  # lateness 1 h, one account per set
T0 = parse_rfc3339("2026-01-05T09:00:00Z")
SEEDS = range(6)


def batches(items: list, rng: random.Random) -> list[list]:
    """``items`` cut into consecutive batches of 1 to 5 items."""
    out, start = [], 0
    while start < len(items):
        size = rng.randint(1, 5)
        out.append(items[start : start + size])
        start += size
    return out


def final_journeys(outputs: list[tuple[bytes | None, bytes]]) -> dict[str, dict[str, Any]]:
    """The last version of every journey that is not superseded, without its version."""
    latest: dict[str, dict[str, Any]] = {}
    for _, value in outputs:
        record = orjson.loads(value)
        latest[record["journey_id"]] = record
    return {
        jid: {k: v for k, v in r.items() if k != "version"}
        for jid, r in latest.items()
        if not r["superseded"]
    }


# ---------------------------------------------------------------- the hub decision, by hand

ONE, TWO = "customer_id:1", "customer_id:2"
PHONE, EMAIL, EMAIL_F = "phone:p", "email:e", "email:f"


def link_item(event_id: str, at: float, *identifiers: str):
    event = {
        "event_id": event_id,
        "event_type": "identity.linked",
        "occurred_at": format_utc(T0 + at),
        "ts": T0 + at,
        "tenant": "acme",
        "customer_ids": sorted(identifiers),
    }
    return identity_item("link", "acme", event)


def contact_item(contact_id: str, at: float, *identifiers: str):
    facts = ContactFacts(
        contact_id=contact_id,
        tenant="acme",
        channel="voice",
        direction="inbound",
        customer_ids=sorted(identifiers),
        started_at=format_utc(T0 + at),
        answered_at=format_utc(T0 + at + 20),
        ended_at=format_utc(T0 + at + 200),
        disposition="resolved",
        status="closed",
    )
    return identity_item("contact", "acme", facts.to_dict())


# A shared phone: customer 1 uses it (t=0), an e-mail is seen with it (t=10), then customer 2
# uses it (t=20) and it becomes a hub. In event time, the e-mail joined customer 1 before the
# phone stopped linking; had the hub decision followed arrival order, a late-arriving t=10 link
# would find a hub and leave the e-mail alone.
LINKS = [
    link_item("l1", 0, ONE, PHONE),
    link_item("l2", 10, PHONE, EMAIL),
    link_item("l3", 20, TWO, PHONE),
    link_item("l4", 30, TWO, EMAIL_F),
]
CONTACTS = [
    contact_item("c1", 0, ONE, PHONE),
    contact_item("c2", 100, EMAIL),
    contact_item("c3", 200, TWO, PHONE),
    contact_item("c4", 300, PHONE),
    contact_item("c5", 400, EMAIL_F),
]


def run_customer_stage(items: list, rng: random.Random, json_store) -> dict[str, dict]:
    return run_stage(items, rng, json_store)[0]


def run_stage(items: list, rng: random.Random, json_store) -> tuple[dict, dict]:
    """The items through a customer stage in random batches: the final journeys, and the
    customer key of every identifier."""
    stage = CustomerStage(SETTINGS, json_store(), json_store(), json_store(), json_store())
    journeys = []
    for batch in batches(items, rng):
        journeys += stage.process([value for _, value in identity_messages(batch)]).journeys
    identifiers = {i for _, item in items for i in orjson.loads(item)["body"]["customer_ids"]}
    keys = {i: stage.graph.customer_key("acme", [i]) for i in sorted(identifiers)}
    return final_journeys(journeys), keys


def test_in_event_time_order_a_shared_phone_links_what_it_saw_before_it_became_a_hub(json_store):
    journeys = run_customer_stage(LINKS + CONTACTS, random.Random(0), json_store)
    by_contacts = {tuple(j["contact_ids"]): j["customer_key"] for j in journeys.values()}
    assert by_contacts == {
        ("c1", "c2"): ONE,  # the e-mail joined customer 1 at t=10, before the hub at t=20
        ("c3", "c5"): TWO,
        ("c4",): "anonymous:c4",  # known only by the hub
    }


@pytest.mark.parametrize("seed", SEEDS)
def test_the_identity_outcome_does_not_depend_on_arrival_order(seed, json_store):
    expected = run_customer_stage(LINKS + CONTACTS, random.Random(0), json_store)
    rng = random.Random(seed)
    items = LINKS + CONTACTS
    rng.shuffle(items)
    assert run_customer_stage(items, rng, json_store) == expected


IDENTIFIERS = [ONE, TWO, "customer_id:3", "account_id:9", PHONE, "phone:q", EMAIL, EMAIL_F]


@st.composite
def identity_items(draw) -> list:
    """Links within the lateness of each other (ties in time included) and contact records
    with the links of their start events, over a few accounts and contact points, so that
    hubs and refusals happen."""
    some = lambda low, high: st.lists(  # noqa: E731
        st.sampled_from(IDENTIFIERS), min_size=low, max_size=high, unique=True
    )
    links = [
        link_item(f"l{i}", draw(st.integers(0, 600)), *draw(some(2, 3)))
        for i in range(draw(st.integers(1, 10)))
    ]
    contacts = []
    for i in range(draw(st.integers(0, 6))):
        at, identifiers = draw(st.integers(0, 600)), draw(some(1, 3))
        contacts.append(contact_item(f"c{i}", at, *identifiers))
        if len(identifiers) > 1:  # its contact.started event links them, as ingest sends it
            links.append(link_item(f"s{i}", at, *identifiers))
    return links + contacts


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=identity_items(), data=st.data())
def test_any_arrival_order_gives_the_graph_and_journeys_of_event_order(items, data):
    in_order = sorted(items, key=lambda item: _event_order(item[1]))
    expected = run_stage(in_order, random.Random(0), JsonStore)
    arrived = data.draw(st.permutations(items))
    rng = random.Random(data.draw(st.integers(0, 2**32)))
    assert run_stage(arrived, rng, JsonStore) == expected


def _event_order(item: bytes) -> tuple:
    """Links in (ts, event_id) order; contact records after them (their order is free)."""
    decoded = orjson.loads(item)
    body = decoded["body"]
    return (0, body["ts"], body["event_id"]) if decoded["kind"] == "link" else (1, 0, "")


def test_a_reordering_is_audited_with_the_links_it_replayed(json_store):
    stage = CustomerStage(SETTINGS, json_store(), json_store(), json_store(), json_store())
    stage.process([v for _, v in identity_messages([LINKS[0], LINKS[2]])])
    out = stage.process([v for _, v in identity_messages([LINKS[1]])])
    audits = [orjson.loads(value) for _, value in out.merges]
    assert [a["action"] for a in audits] == ["reordered", "merge", "hub"]
    assert audits[0]["replayed"] == ["l3"] and audits[0]["evidence"]["event_id"] == "l2"
    assert ONE in audits[0]["affected_keys"]
    assert stage.graph.customer_key("acme", [EMAIL]) == ONE


# ---------------------------------------------------------------- a simulated day, end to end

PARTITIONS = 3


@pytest.fixture(scope="module")
def simulated_day() -> list[bytes]:
    config = SimulationConfig(seed=5, agents=9, tenants=2, load=0.3, faults=FaultRates.none())
    return list(Simulation(config, SETTINGS).messages())


def arrival_order(messages: list[bytes], rng: random.Random) -> list[bytes]:
    """Each message delayed by up to 90 % of the lateness after its event time: every one
    arrives within the lateness of the newest event time seen before it."""
    delay = 0.9 * SETTINGS.stream.lateness_seconds
    arrival = [
        (parse_rfc3339(orjson.loads(m)["occurred_at"]) + rng.uniform(0, delay), i)
        for i, m in enumerate(messages)
    ]
    return [messages[i] for _, i in sorted(arrival)]


def run_pipeline(messages: list[bytes], rng: random.Random, json_store):
    """The raw messages through ingest stages (one per partition, keyed as producers key) and
    the customer stage, in batches of random sizes; the final contacts and journeys."""
    ingests = [
        PartitionIngest(SETTINGS, "omnicx.raw-events", json_store(), json_store())
        for _ in range(PARTITIONS)
    ]
    stage = CustomerStage(SETTINGS, json_store(), json_store(), json_store(), json_store())
    offsets = [0] * PARTITIONS
    contacts: dict[str, dict] = {}
    journeys = []
    for batch in batches(messages, rng):
        by_partition: dict[int, list[RawMessage]] = {}
        for value in batch:
            key = routing_key(orjson.loads(value)).encode()
            partition = sum(key) % PARTITIONS
            message = RawMessage(key, value, partition, offsets[partition])
            offsets[partition] += 1
            by_partition.setdefault(partition, []).append(message)
        items = []
        for partition, raws in sorted(by_partition.items()):
            out = ingests[partition].process(raws)
            assert not out.dead_letters and not out.rekeyed
            for _, value in out.contacts:
                record = orjson.loads(value)
                record.pop("version", None)
                contacts[record["contact_id"]] = record
            items += out.identity
        journeys += stage.process([v for _, v in identity_messages(items)]).journeys
    return contacts, final_journeys(journeys)


def test_a_simulated_day_in_several_arrival_orders_gives_the_same_contacts_and_journeys(
    simulated_day, json_store
):
    in_send_order = run_pipeline(simulated_day, random.Random(0), json_store)
    contacts, journeys = in_send_order
    assert len(contacts) > 100 and len(journeys) > 50
    assert any(len(j["contact_ids"]) > 1 for j in journeys.values())  # repeats were grouped
    for seed in SEEDS[:3]:
        rng = random.Random(seed)
        shuffled = arrival_order(simulated_day, rng)
        assert shuffled != simulated_day
        assert run_pipeline(shuffled, rng, json_store) == in_send_order
