"""Ids across runs: what a run creates is never reused, a seed's population keeps its ids."""

from __future__ import annotations

from datetime import date, timedelta

import orjson
import pytest

from pipelines.simulator.config import SimulationConfig
from pipelines.simulator.run import Simulation
from schemas.identifiers import normalise
from tests.pii import keyed_settings

TINY = SimulationConfig(seed=5, days=1, agents=6, tenants=2, load=0.2)
NEXT_DAY = TINY.start + timedelta(days=1)


def _run(**changes) -> dict:
    """A run's ids: per event, contact, message, ticket, agent and customer identifier."""
    config = SimulationConfig(**{**TINY.__dict__, **changes})
    simulation = Simulation(config, keyed_settings())
    events = []
    for raw in simulation.messages():
        try:
            event = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if isinstance(event, dict) and isinstance(event.get("event_id"), str):
            events.append(event)
    attributes = [e.get("attributes") or {} for e in events]
    customers: dict[str, set[tuple[str, str]]] = {}  # customer_id -> (kind, identifier)
    for e in events:
        obj = e.get("customer") or {}
        if "customer_id" in obj:
            owned = customers.setdefault(obj["customer_id"], set())
            usable = {(k, normalise(k, v)) for k, v in obj.items() if k != "customer_id"}
            owned |= {(k, v) for k, v in usable if v is not None}
    return {
        "events": {e["event_id"] for e in events},
        "contacts": {e["contact_id"] for e in events if "contact_id" in e},
        "messages": {a["message_id"] for a in attributes if "author" in a},
        "tickets": {a["ticket_id"] for a in attributes if "ticket_id" in a},
        "agents": {e["agent_id"] for e in events if "agent_id" in e},
        "customers": customers,
        "truth": simulation.ground_truth(),
    }


@pytest.fixture(scope="module")
def runs() -> dict[str, dict]:
    return {
        "a": _run(),
        "a_next_day": _run(start=NEXT_DAY),
        "b": _run(seed=6),
        "a_again": _run(),
    }


@pytest.mark.parametrize("kind", ["events", "contacts", "messages", "tickets"])
def test_what_a_run_creates_is_never_reused_by_another_day_or_seed(runs, kind) -> None:
    a, a_next_day, b = runs["a"][kind], runs["a_next_day"][kind], runs["b"][kind]
    assert a and a_next_day and b
    assert not a & a_next_day and not a & b and not a_next_day & b


def test_the_same_seed_and_start_gives_the_same_ids(runs) -> None:
    # Re-sending a run is idempotent: the stream drops its events as duplicates.
    assert runs["a_again"]["events"] == runs["a"]["events"]


def test_a_seed_keeps_its_agents_and_customer_accounts_across_days(runs) -> None:
    a, a_next_day = runs["a"], runs["a_next_day"]
    assert a["agents"] == a_next_day["agents"]
    both = set(a["customers"]) & set(a_next_day["customers"])
    assert both, "the same population meets again"
    # A CRM account keeps its mobile from one run to the next.
    for customer_id in both:
        phones = {v for k, v in a["customers"][customer_id] if k == "phone"}
        later = {v for k, v in a_next_day["customers"][customer_id] if k == "phone"}
        own = {p for p in phones | later if p.startswith("+336")}
        assert len(own) <= 1, customer_id


def test_another_seed_is_another_population(runs) -> None:
    a, b = runs["a"], runs["b"]
    assert not a["agents"] & b["agents"]
    assert not set(a["customers"]) & set(b["customers"])
    identifiers_a = set().union(*a["customers"].values())
    identifiers_b = set().union(*b["customers"].values())
    assert not identifiers_a & identifiers_b


def test_ids_name_their_run(runs) -> None:
    truth = runs["a"]["truth"]
    assert min(runs["a"]["contacts"]) == "ct-5-20260105-00000001"
    assert "ev-5-20260106-000000001" in runs["a_next_day"]["events"]
    assert all(c.startswith("C-5-") for c in runs["a"]["customers"])
    assert truth["knobs"]["start"] == date(2026, 1, 5).isoformat()
