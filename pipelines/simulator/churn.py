"""Who really churns: the outcome the churn-risk score is judged against.

The score of kpis.md *predicts* churn; this module decides it, from the customer's experience
in the run plus noise, with a model of its own. It never reads the score's signals, weights,
threshold or look-back (nothing here imports them), so a benchmark can ask whether the score's
flags catch the customers who leave (docs/simulator.md, Churn outcome).

The model is an additive hazard. A customer leaves at a base rate per day, and every experience
adds an excess rate that halves every ``half_life_days``: a long wait (in multiples of what a
customer of the channel tolerates), an abandon (by how long they waited), an outage
deflection, an unresolved, escalated or follow-up disposition, a return about the same issue,
each transfer, a survey (by how dissatisfied its answers are) and a cancellation intent. A
resolved contact first relieves part of the excess accumulated so far. A customer's frailty
(lognormal, mean 1) scales the whole rate. Churn can only happen after the customer's last
contact of the run (a customer who left would not have called again), up to ``follow_up_days``
after the end of the run; the time is where the cumulative hazard reaches an exponential draw.

The draws come from a generator per customer, ``Random(f"churn/{seed}/{customer_id}")``, so the
outcome adds no draw to the run's generator (its events are the same with or without it) and a
customer's luck does not depend on who else was simulated.
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass, field
from typing import Any

from pipelines.simulator.clock import DAY, SECOND
from pipelines.simulator.model import Contact, Customer

# Halvings of the bracket of the churn time (at most the follow-up plus the run): far finer
# than the millisecond it is rounded up to.
_BISECTION_STEPS = 64


def _tolerated_waits() -> dict[str, float]:
    return {"voice": 90.0, "chat": 120.0, "sms": 1800.0, "social": 1800.0, "email": 4 * 3600.0}


@dataclass(frozen=True)
class ChurnModel:
    """The parameters of the outcome; rates are per day, excess rates at the experience's time."""

    base_per_day: float = 0.0005
    half_life_days: float = 14.0
    follow_up_days: int = 30
    frailty_sigma: float = 0.5
    # Seconds of waiting a customer of each channel takes in their stride.
    tolerated_wait_seconds: dict[str, float] = field(default_factory=_tolerated_waits)
    per_wait_multiple: float = 0.002  # per multiple of the tolerated wait beyond it ...
    max_wait_multiples: float = 3.0  # ... counting at most this many
    abandon: float = 0.005  # times min(1, waited / tolerated wait)
    outage_deflection: float = 0.003  # sent away by the outage message
    unresolved: float = 0.006  # disposition unresolved or escalated
    follow_up: float = 0.002  # disposition follow_up
    per_return: float = 0.003  # times (attempt - 1): back about the same issue
    per_transfer: float = 0.001
    dissatisfied_survey: float = 0.02  # times d**2, d = 1 - mean of the scores scaled to 0..1
    cancellation_intent: float = 0.025
    resolved_relief: float = 0.5  # the share of the excess that remains after a resolved contact

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def experience(c: Contact, model: ChurnModel) -> float:
    """The excess churn rate per day one inbound contact adds when it ends."""
    tolerated = model.tolerated_wait_seconds[c.channel] * SECOND
    excess = 0.0
    if c.first_queued is not None and c.answered is not None:
        multiples = (c.answered - c.first_queued) / tolerated - 1.0
        excess += model.per_wait_multiple * min(max(multiples, 0.0), model.max_wait_multiples)
    if c.abandoned_at is not None and c.first_queued is not None:
        excess += model.abandon * min(1.0, (c.abandoned_at - c.first_queued) / tolerated)
    if c.deflection == "front_end_message":
        excess += model.outage_deflection
    if c.disposition in ("unresolved", "escalated"):
        excess += model.unresolved
    elif c.disposition == "follow_up":
        excess += model.follow_up
    excess += model.per_return * (c.attempt - 1) + model.per_transfer * c.transfers
    answers = [
        scaled
        for scaled in (
            None if c.nps is None else c.nps / 10,
            None if c.csat is None else (c.csat - 1) / 4,
            None if c.ces is None else (c.ces - 1) / 6,
        )
        if scaled is not None
    ]
    if answers:
        excess += model.dissatisfied_survey * (1.0 - sum(answers) / len(answers)) ** 2
    if c.intent or c.reason == "cancellation":
        excess += model.cancellation_intent
    return excess


def _end_of(c: Contact) -> int:
    for end in (c.wrapped, c.ended, c.abandoned_at):
        if end is not None:
            return end
    return c.started


def excess_after(customer: Customer, model: ChurnModel) -> tuple[int, float]:
    """The customer's last contact end, and the excess rate per day left at that time."""
    decay_per_ms = math.log(2) / (model.half_life_days * DAY)
    contacts = sorted(customer.contacts, key=lambda c: (_end_of(c), c.id))
    last, excess = _end_of(contacts[0]), 0.0
    for c in contacts:
        end = _end_of(c)
        excess *= math.exp(-decay_per_ms * (end - last))
        last = end
        if c.direction != "inbound":
            continue
        if c.disposition == "resolved":
            excess *= model.resolved_relief
        excess += experience(c, model)
    return last, excess


class _Hazard:
    """Cumulative hazard from the last contact: frailty x (base x s + excess x (1 - e^-ls) / l)."""

    def __init__(self, customer: Customer, frailty: float, model: ChurnModel) -> None:
        self.since, self.excess = excess_after(customer, model)
        self.frailty = frailty
        self.base = model.base_per_day
        self.decay = math.log(2) / model.half_life_days

    def cumulative(self, days: float) -> float:
        decayed = self.excess * (1.0 - math.exp(-self.decay * days)) / self.decay
        return self.frailty * (self.base * days + decayed)


def churn_probability(
    customer: Customer, until_ms: int, model: ChurnModel, frailty: float = 1.0
) -> float:
    """The chance that the customer churns between their last contact and ``until_ms``."""
    hazard = _Hazard(customer, frailty, model)
    return 1.0 - math.exp(-hazard.cumulative(max(0, until_ms - hazard.since) / DAY))


def churned_at(customer: Customer, seed: int, end_ms: int, model: ChurnModel) -> int | None:
    """When the customer churns (epoch ms), or None if not by the end of the follow-up."""
    rng = random.Random(f"churn/{seed}/{customer.customer_id}")
    sigma = model.frailty_sigma
    frailty = math.exp(rng.gauss(0.0, sigma) - sigma * sigma / 2)
    threshold = rng.expovariate(1.0)
    hazard = _Hazard(customer, frailty, model)
    horizon = (end_ms + model.follow_up_days * DAY - hazard.since) / DAY
    if horizon <= 0 or hazard.cumulative(horizon) < threshold:
        return None
    low, high = 0.0, horizon  # the cumulative hazard rises with time: bisect its crossing
    for _ in range(_BISECTION_STEPS):
        middle = (low + high) / 2
        if hazard.cumulative(middle) < threshold:
            low = middle
        else:
            high = middle
    return hazard.since + math.ceil(high * DAY)


def churn_outcome(
    customers: list[Customer], seed: int, end_ms: int, model: ChurnModel
) -> dict[str, int]:
    """customer_id -> churn time of every customer who churns, in customer order."""
    outcome = {}
    for customer in customers:
        at = churned_at(customer, seed, end_ms, model)
        if at is not None:
            outcome[customer.customer_id] = at
    return outcome
