"""Queueing formulas for staffing (docs/staffing.md): Erlang C (M/M/n) and Erlang A (M/M/n+M).

Pure: numbers in, numbers out, no settings and no I/O. Rates are per second, times in seconds.
``traffic`` is the offered load in Erlangs: arrivals per second x mean handle time.

Erlang C is computed from the Erlang B recursion ``B(k) = A B(k-1) / (k + A B(k-1))``, which
stays within [0, 1] at every step, so 500 or 5 000 agents neither overflow a factorial nor lose
precision. Erlang A (Palm's queue with exponential patience) is computed exactly from its
birth-death stationary distribution (truncated where the terms fall below 1e-16 of their sum)
and, for the service level, from the waiting customer's position in the queue, solved by
uniformization (a sum of non-negative terms, stable for any number of agents).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

_NEGLIGIBLE = 1e-16
_MAX_QUEUE_STATES = 200_000


@dataclass(frozen=True)
class Prediction:
    """What ``agents`` agents achieve on an interval's traffic.

    ``service_level``: share of the offered contacts answered within the threshold (Erlang A: an
    abandon counts against it); ``asa``: mean wait in seconds (Erlang A: of all offered contacts,
    answered or abandoned); ``p_wait``: probability that a contact waits at all; ``occupancy``:
    share of logged-in agent time spent handling; ``p_abandon``: 0 for Erlang C.
    """

    agents: int
    service_level: float
    asa: float
    p_wait: float
    occupancy: float
    p_abandon: float = 0.0


def erlang_b(agents: int, traffic: float) -> float:
    """Blocking probability of M/M/n/n with ``agents`` servers and ``traffic`` Erlangs."""
    if agents < 0 or traffic < 0:
        raise ValueError(f"agents and traffic must be >= 0, got {agents}, {traffic}")
    blocking = 1.0
    for k in range(1, agents + 1):
        blocking = traffic * blocking / (k + traffic * blocking)
    return blocking


def erlang_c(agents: int, traffic: float) -> float:
    """Probability of waiting in M/M/n (Erlang C); 1 when the agents cannot keep up."""
    if traffic <= 0:
        return 0.0
    if agents <= traffic:
        return 1.0
    blocking = erlang_b(agents, traffic)
    return agents * blocking / (agents - traffic * (1 - blocking))


def predict_c(agents: int, traffic: float, aht: float, threshold: float) -> Prediction:
    """Erlang C service level, ASA, P(wait) and occupancy of ``agents`` agents."""
    if traffic <= 0:
        return Prediction(agents, 1.0, 0.0, 0.0, 0.0)
    if agents <= traffic:  # unstable: the queue grows without bound
        return Prediction(agents, 0.0, math.inf, 1.0, 1.0)
    p_wait = erlang_c(agents, traffic)
    spare = agents - traffic
    return Prediction(
        agents=agents,
        service_level=1 - p_wait * math.exp(-spare * threshold / aht),
        asa=p_wait * aht / spare,
        p_wait=p_wait,
        occupancy=traffic / agents,
    )


def required_agents(
    predict: Callable[[int], Prediction], traffic: float, target: float
) -> Prediction:
    """The fewest agents whose ``predict(agents)`` service level reaches ``target``, with what
    they achieve: ``predict`` is ``predict_c`` or ``predict_a`` with the interval's figures."""
    if not 0 < target < 1:
        raise ValueError(f"service-level target must be in (0, 1), got {target}")
    agents = max(1, math.floor(traffic) + 1) if traffic > 0 else 0
    if agents == 0:
        return predict(0)
    # Erlang C needs more agents than Erlangs; Erlang A can need fewer, so search down first.
    while agents > 1 and predict(agents - 1).service_level >= target:
        agents -= 1
    while (prediction := predict(agents)).service_level < target:
        agents += 1
    return prediction


def required_agents_c(traffic: float, aht: float, threshold: float, target: float) -> Prediction:
    """The fewest agents whose Erlang C service level reaches ``target``."""
    return required_agents(lambda n: predict_c(n, traffic, aht, threshold), traffic, target)


def required_agents_a(
    traffic: float, aht: float, threshold: float, target: float, mean_patience: float
) -> Prediction:
    """The fewest agents whose Erlang A service level reaches ``target``."""
    return required_agents(
        lambda n: predict_a(n, traffic, aht, threshold, mean_patience), traffic, target
    )


def positions(agents: int, shrinkage: float) -> int:
    """Agents to schedule so that ``agents`` are available after ``shrinkage`` (breaks,
    training, absence: a share of paid time in [0, 1))."""
    if not 0 <= shrinkage < 1:
        raise ValueError(f"shrinkage must be in [0, 1), got {shrinkage}")
    # 14 / 0.7 is 20.000000000000004 in binary: round away such dust before the ceiling.
    return math.ceil(round(agents / (1 - shrinkage), 9))


def _queue_distribution(agents: int, arrival: float, service: float, patience: float):
    """Stationary probabilities of M/M/n+M: (P(k < n) summed, [P(n + j) for j = 0, 1, ...])."""
    # Unnormalised, scaled so that state n has weight 1 (no overflow for large n or load).
    below = 0.0
    weight = 1.0
    for k in range(agents, 0, -1):  # p(k-1) = p(k) * k mu / lambda
        weight *= k * service / arrival
        below += weight
        if weight < _NEGLIGIBLE * (1 + below):
            break
    queue = [1.0]
    total = 1.0 + below
    j = 0
    while j < _MAX_QUEUE_STATES:
        j += 1
        nxt = queue[-1] * arrival / (agents * service + j * patience)
        queue.append(nxt)
        total += nxt
        if nxt < _NEGLIGIBLE * total and agents * service + j * patience > arrival:
            break
    return below / total, [q / total for q in queue]


def predict_a(
    agents: int, traffic: float, aht: float, threshold: float, mean_patience: float
) -> Prediction:
    """Erlang A (M/M/n+M): Erlang C plus abandons after an exponential patience of mean
    ``mean_patience`` seconds. Stable at any load (abandons bound the queue)."""
    if traffic <= 0:
        return Prediction(agents, 1.0, 0.0, 0.0, 0.0)
    if agents < 1 or mean_patience <= 0:
        raise ValueError(f"need agents >= 1 and mean_patience > 0, got {agents}, {mean_patience}")
    service = 1 / aht
    arrival = traffic * service
    patience = 1 / mean_patience
    no_wait, queue = _queue_distribution(agents, arrival, service, patience)
    p_wait = 1 - no_wait
    busy_rate = agents * service
    # A contact finding j already queued is answered with probability n mu / (n mu + (j+1) theta)
    # (it must outlast j + 1 competing exponential races), so the abandon share is the rest.
    p_abandon = sum(
        q * (j + 1) * patience / (busy_rate + (j + 1) * patience) for j, q in enumerate(queue)
    )
    answered_within = no_wait + _answered_within(queue, busy_rate, patience, threshold)
    # Little's law on the queue: abandons per second = theta E[queue] = lambda P(abandon).
    asa = p_abandon / patience
    occupancy = arrival * (1 - p_abandon) / busy_rate
    return Prediction(agents, answered_within, asa, p_wait, occupancy, p_abandon)


def _answered_within(queue: list[float], busy_rate: float, patience: float, t: float) -> float:
    """P(the contact waits, is answered, and within ``t`` seconds), given ``queue``: the
    probabilities that it finds j contacts already queued (all agents busy).

    The contact's number ahead falls by one at rate n mu + j theta and it abandons at rate theta.
    Its sojourn ends by its own patience at the latest, so past theta t > 40 the answer is the
    answered share itself; otherwise uniformization at the fastest rate: P(answered by t) is
    sum_k Poisson(k; rate t) P(answered within k steps), every term non-negative.
    """
    answered_eventually = sum(
        q * busy_rate / (busy_rate + (j + 1) * patience) for j, q in enumerate(queue)
    )
    if t <= 0:
        return 0.0
    if patience * t > 40:
        return answered_eventually
    states = len(queue)
    uniform = busy_rate + states * patience
    mean_steps = uniform * t
    leave = [(busy_rate + (j + 1) * patience) / uniform for j in range(states)]
    ahead_less = [(busy_rate + j * patience) / uniform for j in range(states)]
    position = list(queue)  # P(j ahead, still waiting) after k steps
    answered = 0.0  # P(answered within k steps)
    result = 0.0
    mass = 0.0
    log_weight = -mean_steps
    # Poisson mass beyond mean + 12 sd is below 1e-30; the cap also ends the loop should
    # rounding keep the summed mass a hair under 1 - 1e-13.
    last = math.ceil(mean_steps + 12 * math.sqrt(mean_steps) + 30)
    k = 0
    while mass < 1 - 1e-13 and k <= last:
        if k:
            log_weight += math.log(mean_steps / k)
        weight = math.exp(log_weight)
        result += weight * answered
        mass += weight
        answered += position[0] * busy_rate / uniform
        position = [
            position[j] * (1 - leave[j])
            + (position[j + 1] * ahead_less[j + 1] if j + 1 < states else 0.0)
            for j in range(states)
        ]
        k += 1
    return result + (1 - mass) * answered
