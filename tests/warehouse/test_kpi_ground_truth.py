"""The marts against an independent oracle: the simulator's ground truth (``ground_truth.json``
``kpis``), computed from its own state by ``pipelines/simulator/kpis.py``.

The intermediate layer is made the way the warehouse makes it, from what the stream would have:
the simulator's contact and journey facts, and its canonical events for surveys, agent states
and opt-outs. Every KPI id, overall and per tenant, channel and day, must be equal.

One tenant reports in Asia/Tokyo (UTC+9): the simulated centre opens 06:00-22:00 UTC, 15:00-07:00
in Tokyo, so each of its UTC days splits across two local days, and the two days simulated
cover three Tokyo days; the other tenant reports in UTC (docs/kpis.md, Time zones).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import orjson
import pytest

from pipelines.simulator.config import FaultRates, SimulationConfig
from pipelines.simulator.run import Simulation
from schemas.settings import TenantSettings, with_overrides
from streams.canonical import canonicalise
from tests.warehouse.kpi_fixtures import (
    DAY,
    NEXT_DAY,
    refreshed,
    settings,
    state_spans,
    survey_row,
)
from warehouse.kpis import kpi_values

GROUPINGS = {"by_tenant": "tenant", "by_channel": "channel", "by_day": "day"}
TOKYO = "bluewave-bank"
LAST_DAY = NEXT_DAY + timedelta(days=1)  # Tokyo's third local day


@pytest.fixture(scope="module")
def simulated():
    knobs = with_overrides(settings(), tenants={TOKYO: TenantSettings(time_zone="Asia/Tokyo")})
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
        surveys=[survey_row(e) for e in events if e["event_type"] == "survey.completed"],
        spans=state_spans([e for e in events if e["event_type"] == "agent.state_changed"]),
        date_to=LAST_DAY,
        knobs=knobs,
    )
    return con, truth, knobs


def _ours(con, knobs, by: list[str]) -> dict[tuple, dict[str, Any]]:
    values: dict[tuple, dict[str, Any]] = {}
    for row in kpi_values(con, DAY, LAST_DAY, by, knobs):
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
    con, ground_truth, knobs = simulated
    truth = ground_truth["kpis"]
    (overall,) = _ours(con, knobs, []).values()
    assert set(truth["overall"]) <= set(overall)
    _assert_same(overall, truth["overall"], "overall")


@pytest.mark.parametrize("grouping", sorted(GROUPINGS))
def test_grouped_kpis_equal_the_ground_truth(simulated, grouping):
    con, ground_truth, knobs = simulated
    truth = ground_truth["kpis"]
    ours = _ours(con, knobs, [GROUPINGS[grouping]])
    assert len(truth[grouping]) >= 2
    for key, expected in truth[grouping].items():
        _assert_same(ours.get((key,), {}), expected, f"{grouping} {key}")
    assert set(ours) == {(key,) for key in truth[grouping]}


def test_a_tokyo_tenants_days_are_its_local_days_in_the_truth_and_the_marts(simulated):
    con, ground_truth, _ = simulated
    assert ground_truth["settings"]["time_zones"] == {
        "acme-telecom": "UTC",
        TOKYO: "Asia/Tokyo",
    }
    assert {date.fromisoformat(k) for k in ground_truth["kpis"]["by_day"]} == {
        DAY,
        NEXT_DAY,
        LAST_DAY,
    }
    days = con.execute(
        "select tenant, min(day), max(day), count(distinct day) from mart_contact_kpis_hourly "
        "group by tenant order by tenant"
    ).fetchall()
    assert days == [("acme-telecom", DAY, NEXT_DAY, 2), (TOKYO, DAY, LAST_DAY, 3)]
    # every Tokyo contact's day is its start's date in Tokyo, 9 hours ahead of UTC
    wrong = con.execute(
        "select count(*) from kpi_contacts where tenant = $tenant "
        "and day <> cast(make_timestamp(epoch_us(attributed_at)) + interval 9 hour as date)",
        {"tenant": TOKYO},
    ).fetchone()
    assert wrong == (0,)
