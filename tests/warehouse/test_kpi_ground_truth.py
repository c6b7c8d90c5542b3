"""The marts against an independent oracle: the simulator's ground truth (``ground_truth.json``
``kpis``), computed from its own state by ``pipelines/simulator/kpis.py``.

The intermediate layer is made the way the warehouse makes it, from what the stream would have:
the simulator's contact and journey facts, and its canonical events for surveys, agent states
and opt-outs. Every KPI id, overall and per tenant, channel and day, must be equal.
"""

from __future__ import annotations

from datetime import date
from itertools import pairwise
from typing import Any

import orjson
import pytest

from pipelines.simulator.config import FaultRates, SimulationConfig
from pipelines.simulator.run import Simulation
from streams.canonical import canonicalise
from tests.warehouse.kpi_fixtures import DAY, NEXT_DAY, refreshed, settings
from warehouse.kpis import kpi_values

GROUPINGS = {"by_tenant": "tenant", "by_channel": "channel", "by_day": "day"}


@pytest.fixture(scope="module")
def simulated():
    knobs = settings()
    config = SimulationConfig(
        seed=7, days=2, agents=9, tenants=2, load=0.4, start=DAY, faults=FaultRates.none()
    )
    simulation = Simulation(config, knobs)
    events = [canonicalise(orjson.loads(raw), knobs.pii_key) for raw in simulation.messages()]
    truth = simulation.ground_truth()
    journeys = simulation.journey_facts()
    con = refreshed(
        list(simulation.contact_facts()),
        journeys=journeys,
        customer_keys={cid: j.customer_key for j in journeys for cid in j.contact_ids},
        surveys=[_survey(e) for e in events if e["event_type"] == "survey.completed"],
        spans=_spans([e for e in events if e["event_type"] == "agent.state_changed"]),
        date_to=NEXT_DAY,
        knobs=knobs,
    )
    return con, truth["kpis"], knobs


def _survey(event: dict[str, Any]) -> dict[str, Any]:
    scores = event["attributes"]
    return {
        "event_id": event["event_id"],
        "contact_id": event["contact_id"],
        "tenant": event["tenant"],
        "channel": event["channel"],
        "survey_at": event["occurred_at"],
        **{k: scores.get(k) for k in ("nps", "csat", "ces")},
    }


def _spans(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A state lasts until the agent's next change (the last one: not counted, the agent logs
    off at the end of the run)."""
    by_agent: dict[str, list[dict[str, Any]]] = {}
    for change in sorted(changes, key=lambda e: (e["ts"], e["event_id"])):
        by_agent.setdefault(change["agent_id"], []).append(change)
    return [
        {
            "agent_id": agent,
            "tenant": change["tenant"],
            "state": change["attributes"]["state"],
            "started_at": change["occurred_at"],
            "ended_at": following["occurred_at"],
        }
        for agent, ordered in by_agent.items()
        for change, following in pairwise(ordered)
    ]


def _ours(con, knobs, by: list[str]) -> dict[tuple, dict[str, Any]]:
    values: dict[tuple, dict[str, Any]] = {}
    for row in kpi_values(con, DAY, NEXT_DAY, by, knobs):
        group = tuple(str(row[d]) for d in by)
        values.setdefault(group, {})[row["kpi"]] = row["value"]
    return values


def _assert_same(ours: dict[str, Any], truth: dict[str, Any], where: str) -> None:
    for kpi, expected in truth.items():
        got = ours.get(kpi)  # a KPI with no row (nothing to take a median over) has no value
        if expected is None:
            assert got is None, f"{where} {kpi}: {got} instead of no value"
        else:
            assert got == pytest.approx(expected, rel=1e-9), f"{where} {kpi}"


def test_overall_kpis_equal_the_ground_truth(simulated):
    con, truth, knobs = simulated
    (overall,) = _ours(con, knobs, []).values()
    assert set(truth["overall"]) <= set(overall)
    _assert_same(overall, truth["overall"], "overall")


@pytest.mark.parametrize("grouping", sorted(GROUPINGS))
def test_grouped_kpis_equal_the_ground_truth(simulated, grouping):
    con, truth, knobs = simulated
    ours = _ours(con, knobs, [GROUPINGS[grouping]])
    assert len(truth[grouping]) >= 2
    for key, expected in truth[grouping].items():
        _assert_same(ours.get((key,), {}), expected, f"{grouping} {key}")
    assert {date.fromisoformat(k) for k in truth["by_day"]} == {DAY, NEXT_DAY}
