"""Erlang C against the classic published example, Erlang A against an independent solution of
the same queue (a generator matrix solved with numpy, waiting times by matrix exponential)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.linalg import expm

from warehouse import erlang

# 100 calls in 30 minutes, AHT 180 s: 10 Erlangs; 80% answered within 20 s.
REFERENCE_TRAFFIC = 100 * 180 / 1800


def test_erlang_c_reproduces_the_classic_reference():
    fourteen = erlang.required_agents_c(REFERENCE_TRAFFIC, aht=180, threshold=20, target=0.8)
    assert fourteen.agents == 14
    assert round(fourteen.p_wait, 4) == 0.1741
    assert round(fourteen.service_level, 4) == 0.8884
    assert round(fourteen.asa, 2) == 7.84
    assert round(fourteen.occupancy, 3) == 0.714
    assert erlang.positions(fourteen.agents, shrinkage=0.3) == 20
    thirteen = erlang.predict_c(13, REFERENCE_TRAFFIC, aht=180, threshold=20)
    assert round(thirteen.service_level, 4) == 0.7956


def test_erlang_c_is_stable_for_large_centres():
    # 5 000 agents would overflow 5000! in floats; the Erlang B recursion does not.
    large = erlang.predict_c(5000, 4900.0, aht=300, threshold=20)
    assert 0 < large.p_wait < 1
    assert 0.9 < large.service_level <= 1
    required = erlang.required_agents_c(4900.0, aht=300, threshold=20, target=0.8)
    assert 4900 < required.agents <= 5000
    assert erlang.predict_c(required.agents - 1, 4900.0, 300, 20).service_level < 0.8


def test_erlang_c_overloaded_and_idle_intervals():
    assert erlang.predict_c(10, 10.0, aht=180, threshold=20).service_level == 0
    assert erlang.predict_c(3, 0.0, aht=180, threshold=20).service_level == 1
    assert erlang.required_agents_c(0.0, aht=180, threshold=20, target=0.8).agents == 0
    with pytest.raises(ValueError):
        erlang.positions(10, shrinkage=1.0)


def birth_death_solution(agents, arrival, service, patience, threshold, states=400):
    """M/M/n+M by brute force: the truncated chain's generator solved with numpy for the
    stationary distribution; P(answered within t) from the tagged contact's position chain via
    scipy's matrix exponential."""
    generator = np.zeros((states, states))
    for k in range(states - 1):
        generator[k, k + 1] = arrival
        generator[k + 1, k] = min(k + 1, agents) * service + max(k + 1 - agents, 0) * patience
    np.fill_diagonal(generator, -generator.sum(axis=1))
    system = np.vstack([generator.T, np.ones(states)])
    rhs = np.zeros(states + 1)
    rhs[-1] = 1
    p = np.linalg.lstsq(system, rhs, rcond=None)[0]
    queued = np.arange(states) - agents
    p_wait = p[agents:].sum()
    mean_queue = (p[agents:] * queued[agents:]).sum()
    p_abandon = patience * mean_queue / arrival  # abandons per second / arrivals per second
    # Tagged contact: transient states j = contacts ahead (0..m-1), then answered, abandoned.
    m = states - agents
    tagged = np.zeros((m + 2, m + 2))
    for j in range(m):
        if j:
            tagged[j, j - 1] = agents * service + j * patience
        else:
            tagged[j, m] = agents * service
        tagged[j, m + 1] = patience
    np.fill_diagonal(tagged, -tagged.sum(axis=1))
    start = np.zeros(m + 2)
    start[:m] = p[agents:]
    later = start @ expm(tagged * threshold)
    service_level = p[:agents].sum() + later[m]
    return p_wait, p_abandon, service_level


@pytest.mark.parametrize(
    ("agents", "traffic", "aht", "patience", "threshold"),
    [
        (14, 10.0, 180.0, 120.0, 20.0),
        (9, 10.0, 180.0, 60.0, 20.0),
        (30, 31.0, 300.0, 200.0, 30.0),
        (9, 10.0, 180.0, 60.0, 2340.0),  # theta t = 39: still summed step by step
        (9, 10.0, 180.0, 60.0, 2460.0),  # theta t = 41: the answered share
    ],
)
def test_erlang_a_matches_an_independent_birth_death_solution(
    agents, traffic, aht, patience, threshold
):
    predicted = erlang.predict_a(agents, traffic, aht, threshold, mean_patience=patience)
    p_wait, p_abandon, service_level = birth_death_solution(
        agents, traffic / aht, 1 / aht, 1 / patience, threshold
    )
    assert predicted.p_wait == pytest.approx(p_wait, abs=1e-9)
    assert predicted.p_abandon == pytest.approx(p_abandon, abs=1e-9)
    assert predicted.service_level == pytest.approx(service_level, abs=1e-9)
    assert predicted.asa == pytest.approx(p_abandon * patience, rel=1e-9)


def test_erlang_a_tends_to_erlang_c_without_abandons_and_needs_fewer_agents_with_them():
    patient = erlang.predict_a(14, REFERENCE_TRAFFIC, 180, 20, mean_patience=1e9)
    assert patient.service_level == pytest.approx(0.8883500, abs=1e-6)
    assert patient.asa == pytest.approx(7.8359, abs=1e-3)
    impatient = erlang.required_agents_a(REFERENCE_TRAFFIC, 180, 20, 0.8, mean_patience=60)
    assert impatient.agents < 14
    assert impatient.service_level >= 0.8
    below = erlang.predict_a(impatient.agents - 1, REFERENCE_TRAFFIC, 180, 20, 60)
    assert below.service_level < 0.8
    assert math.isfinite(erlang.predict_a(5, 10.0, 180, 20, 60).asa)  # overloaded yet stable
