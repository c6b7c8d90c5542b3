"""The churn outcome (pipelines/simulator/churn.py): who really leaves, decided by the customer's
experience and noise, independently of the churn-risk score it is meant to judge."""

from __future__ import annotations

import ast
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

import pipelines.simulator.churn as churn_module
from pipelines.simulator.churn import ChurnModel, churn_probability, churned_at
from pipelines.simulator.clock import DAY, MINUTE, SECOND, epoch_ms, format_ms
from pipelines.simulator.config import FaultRates, SimulationConfig
from pipelines.simulator.model import Contact, Customer, Tenant
from pipelines.simulator.run import Simulation
from tests.pii import keyed_settings

MODEL = ChurnModel()
MONDAY = epoch_ms(date(2026, 1, 5))
UNTIL = MONDAY + 30 * DAY
SMALL_CENTRE = SimulationConfig(
    seed=5, days=3, agents=12, tenants=2, load=0.6, faults=FaultRates.none()
)


def customer(*contacts: dict[str, Any]) -> Customer:
    """A voice customer whose calls (one dict of changed fields each, an hour apart) are
    queued, answered after 20 s, talked for 5 minutes and resolved, unless told otherwise."""
    tenant = Tenant(0, "acme-telecom")
    who = Customer(1, 1, "C-1-acme-000001", tenant, ("Ann", "Lee"))
    for n, fields in enumerate(contacts):
        started = MONDAY + 9 * 3_600_000 + n * 3_600_000
        c = Contact(f"ct-{n}", tenant, fields.pop("channel", "voice"), "inbound", who, started)
        c.first_queued = started + 30 * SECOND
        c.answered = c.first_queued + 20 * SECOND
        c.ended = c.answered + 5 * MINUTE
        c.wrapped = c.ended + 30 * SECOND
        c.disposition = "resolved"
        for name, value in fields.items():
            setattr(c, name, value)
        who.contacts.append(c)
    return who


def abandoned_after(seconds: int) -> dict[str, Any]:
    return {"answered": None, "ended": None, "wrapped": None, "disposition": None,
            "abandoned_at": MONDAY + 9 * 3_600_000 + (30 + seconds) * SECOND}  # fmt: skip


GOOD = {}
BAD_EXPERIENCES = {
    "long wait": {"answered": MONDAY + 9 * 3_600_000 + 10 * MINUTE},
    "abandon": abandoned_after(240),
    "unresolved": {"disposition": "unresolved"},
    "escalated": {"disposition": "escalated"},
    "follow-up": {"disposition": "follow_up"},
    "return about the same issue": {"attempt": 2},
    "transfer": {"transfers": 1},
    "low survey scores": {"nps": 2, "csat": 1},
    "cancellation intent": {"intent": True},
    "cancellation reason": {"reason": "cancellation"},
    "outage deflection": {
        **dict.fromkeys(("first_queued", "answered", "ended", "wrapped", "disposition")),
        "deflection": "front_end_message",
    },
}


def probability(who: Customer, model: ChurnModel = MODEL) -> float:
    return churn_probability(who, UNTIL, model)


@pytest.mark.parametrize("experience", sorted(BAD_EXPERIENCES))
def test_a_bad_experience_raises_the_churn_probability(experience: str) -> None:
    good = probability(customer(dict(GOOD)))
    bad = probability(customer(dict(BAD_EXPERIENCES[experience])))
    assert 0.0 < good < bad < 1.0


def test_the_probability_grows_with_how_bad_it_was() -> None:
    waits = [
        probability(customer({"answered": MONDAY + 9 * 3_600_000 + 30 * SECOND + wait}))
        for wait in (60 * SECOND, 5 * MINUTE, 8 * MINUTE)
    ]
    assert waits[0] < waits[1] < waits[2]
    abandons = [probability(customer(abandoned_after(s))) for s in (3, 45, 90)]
    assert abandons[0] < abandons[1] < abandons[2]
    surveys = [probability(customer({"nps": n, "csat": c})) for n, c in ((9, 5), (6, 3), (1, 1))]
    assert surveys[0] < surveys[1] < surveys[2]
    one, two = (
        customer({"disposition": "unresolved"}),
        customer(*[{"disposition": "unresolved"}] * 2),
    )
    assert probability(one) < probability(two)


def test_a_resolved_contact_relieves_what_came_before() -> None:
    unresolved = {"disposition": "unresolved", "nps": 1}
    left_unresolved = customer(dict(unresolved), {"disposition": "follow_up"})
    then_resolved = customer(dict(unresolved), {"disposition": "resolved"})
    assert probability(then_resolved) < probability(left_unresolved)


def test_the_hazard_keeps_accumulating_at_a_decaying_rate() -> None:
    who = customer({"disposition": "unresolved", "intent": True})
    soon = churn_probability(who, who.contacts[-1].wrapped + DAY, MODEL)
    later = churn_probability(who, who.contacts[-1].wrapped + 20 * DAY, MODEL)
    assert 0.0 < soon < later
    assert later - soon < 19 * soon  # the 19 days after the first add less than 19 first days


def test_the_base_rate_alone_is_what_a_customer_without_a_bad_experience_faces() -> None:
    quiet = replace(MODEL, base_per_day=0.0)
    assert probability(customer(dict(GOOD)), quiet) == 0.0
    assert probability(customer({"nps": 3}), quiet) > 0.0


def test_the_model_never_reads_the_churn_score() -> None:
    """No name of the score's definition (its signals' weights, threshold, look-back, the
    signal functions or the churn settings) appears in the outcome's module."""
    tree = ast.parse(Path(churn_module.__file__).read_text())
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    imported = {
        alias.name
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom | ast.Import)
        for alias in n.names
    }
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    score_names = {
        "CHURN_WEIGHTS",
        "CHURN_THRESHOLD",
        "CHURN_LOOKBACK_DAYS",
        "churn_score",
        "churn_signals",
        "ChurnSettings",
        "churn",
        "truth",
    }
    assert not (names | imported) & score_names
    assert modules <= {"__future__", "dataclasses", "typing"} | {
        "pipelines.simulator.clock",
        "pipelines.simulator.model",
    }
    assert not any(name.startswith("weight_") for name in names)


def run_truth(config: SimulationConfig, **settings: Any) -> tuple[bytes, dict[str, Any]]:
    simulation = Simulation(config, keyed_settings(**settings))
    messages = b"\n".join(simulation.messages())
    return messages, simulation.ground_truth()


@pytest.fixture(scope="module")
def centre_truth() -> tuple[bytes, dict[str, Any]]:
    return run_truth(SMALL_CENTRE)


def test_the_outcome_is_the_same_whatever_the_score_weights(centre_truth) -> None:
    messages, truth = centre_truth
    reweighted = {"weight_cancellation_intent": 0, "weight_nps_detractor": 90, "threshold": 20}
    other_messages, other = run_truth(SMALL_CENTRE, churn=reweighted)
    assert other["churn_outcome"] == truth["churn_outcome"]
    assert other_messages == messages
    assert len(truth["churn_outcome"]["churned"]) >= 5


def test_the_outcome_is_deterministic_per_seed(centre_truth) -> None:
    _, truth = centre_truth
    _, again = run_truth(SMALL_CENTRE)
    assert again["churn_outcome"] == truth["churn_outcome"]
    _, other_seed = run_truth(replace(SMALL_CENTRE, seed=6))
    assert other_seed["churn_outcome"]["churned"] != truth["churn_outcome"]["churned"]


def test_the_outcome_draws_nothing_from_the_run_generator(centre_truth) -> None:
    """Another churn model changes who churns but not one byte of the events or of the rest of
    the ground truth: the outcome has generators of its own."""
    messages, truth = centre_truth
    simulation = Simulation(SMALL_CENTRE, keyed_settings(), replace(MODEL, cancellation_intent=1.0))
    assert b"\n".join(simulation.messages()) == messages
    other = simulation.ground_truth()
    assert other["churn_outcome"]["churned"] != truth["churn_outcome"]["churned"]
    assert other["churn_outcome"]["model"]["cancellation_intent"] == 1.0
    rest = {key: value for key, value in truth.items() if key != "churn_outcome"}
    assert {key: value for key, value in other.items() if key != "churn_outcome"} == rest


def test_customers_churn_after_their_last_contact_within_the_follow_up() -> None:
    simulation = Simulation(SMALL_CENTRE, keyed_settings())
    for _ in simulation.messages():
        pass
    outcome = simulation.ground_truth()["churn_outcome"]
    last = {
        c.customer.customer_id: max(
            t for t in (c.started, c.wrapped, c.ended, c.abandoned_at) if t is not None
        )
        for c in simulation.engine.contacts
    }
    end = simulation.engine.end + MODEL.follow_up_days * DAY
    assert outcome["follow_up_until"] == format_ms(end)
    for customer_id, at in outcome["churned"].items():
        assert format_ms(last[customer_id]) < at <= format_ms(end), customer_id


def test_worse_experience_churns_more_in_a_simulated_centre() -> None:
    """Across a run's customers, those with a bad experience (an unresolved, escalated or
    abandoned contact, or a detractor survey) churn more often than those without."""
    simulation = Simulation(SMALL_CENTRE, keyed_settings())
    for _ in simulation.messages():
        pass
    churned = set(simulation.ground_truth()["churn_outcome"]["churned"])

    def bad(c: Contact) -> bool:
        return (
            c.disposition in ("unresolved", "escalated")
            or c.abandoned_at is not None
            or (c.nps is not None and c.nps <= 4)
        )

    customers = {c.customer.customer_id: c.customer for c in simulation.engine.contacts}
    rough = [cid for cid, who in customers.items() if any(map(bad, who.contacts))]
    smooth = [cid for cid in customers if cid not in set(rough)]
    rate = {
        name: sum(cid in churned for cid in group) / len(group)
        for name, group in (("rough", rough), ("smooth", smooth))
    }
    assert len(rough) >= 100 and len(smooth) >= 100
    assert rate["rough"] > 1.5 * rate["smooth"]


def test_a_customer_churn_time_is_drawn_from_their_own_generator() -> None:
    """The same customer of the same seed gets the same luck, whoever else is simulated."""
    who = customer({"intent": True, "nps": 0})
    end = MONDAY + 7 * DAY
    first = churned_at(who, 7, end, MODEL)
    assert first == churned_at(who, 7, end, MODEL)
    draws = {churned_at(who, seed, end, MODEL) for seed in range(40)}
    assert None in draws and len(draws) > 10  # some seeds churn them, at many times
