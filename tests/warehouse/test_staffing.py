"""The staffing requirement on simulated days whose staffing is known (no broker): the simulator
sizes each day's arrivals as ``load`` x the productive capacity of its shifts, so at load 2 every
hour it opens has twice the work its agents can do, and at load 0.2 a fifth. Its events are
folded by the stream's own code (``streams.contacts``), its agent state changes made into spans,
and the marts refreshed over that intermediate layer (tests/warehouse/kpi_fixtures.py)."""

from __future__ import annotations

import math
from datetime import date

import pytest

from pipelines.simulator.config import FaultRates, SimulationConfig
from pipelines.simulator.engine import Engine
from schemas.settings import with_overrides
from schemas.targets import KpiTargets, TargetOverride
from streams.canonical import canonicalise
from streams.contacts import ContactFold, is_contact_event
from tests.pii import TEST_PII_KEY
from tests.warehouse.kpi_fixtures import DAY, contact, handled_call, refreshed, settings
from warehouse import staffing

END_OF_DAY = "2026-01-06T00:00:00.000Z"


def simulated_day(load: float):
    """One simulated day of one tenant's 15 agents at ``load``, refreshed; its ALL rows by hour."""
    knobs = settings()
    config = SimulationConfig(
        seed=7, agents=15, tenants=1, start=DAY, load=load, faults=FaultRates.none()
    )
    events = [event for _, event in Engine(config, knobs).run()]
    fold = ContactFold({}, short_abandon_seconds=5.0, idle_timeout_seconds=4 * 3600)
    canonical = [canonicalise(e, TEST_PII_KEY) for e in events if is_contact_event(e)]
    contacts = {}
    for record in [*fold.apply(canonical, -math.inf), *fold.sweep(math.inf)]:
        contacts[record.facts.contact_id] = record.facts
    con = refreshed(list(contacts.values()), spans=agent_spans(events), knobs=knobs)
    return con, knobs


def agent_spans(events: list[dict]) -> list[dict]:
    """Each agent state lasts until the agent's next change (the last one until midnight)."""
    changes = sorted(
        (e for e in events if e["event_type"] == "agent.state_changed"),
        key=lambda e: (e["agent_id"], e["occurred_at"]),
    )
    spans = []
    for change, following in zip(changes, [*changes[1:], None], strict=True):
        same_agent = following is not None and following["agent_id"] == change["agent_id"]
        spans.append(
            {
                "agent_id": change["agent_id"],
                "state": change["attributes"]["state"],
                "started_at": change["occurred_at"],
                "ended_at": following["occurred_at"] if same_agent else END_OF_DAY,
                "tenant": change["tenant"],
            }
        )
    return spans


def by_hour(intervals: list[staffing.Interval]) -> dict[int, staffing.Interval]:
    return {i.hour.hour: i for i in intervals if i.channel == staffing.ALL}


@pytest.fixture(scope="module")
def overloaded():
    con, knobs = simulated_day(load=2.0)
    yield staffing.staffing(con, DAY, DAY, knobs), con, knobs
    con.close()


@pytest.fixture(scope="module")
def light():
    con, knobs = simulated_day(load=0.2)
    yield staffing.staffing(con, DAY, DAY, knobs)
    con.close()


def test_hours_with_twice_the_work_the_agents_can_do_are_under_staffed(overloaded):
    hours = by_hour(overloaded[0])
    # 06:00 opens with an empty queue; from 07:00 to the 21:00 close every hour has the backlog.
    busy = list(range(7, 22))
    assert all(hours[h].offered > 0 for h in busy)
    assert {h: hours[h].status for h in busy} == dict.fromkeys(busy, staffing.UNDER)
    for h in busy:
        assert hours[h].required > hours[h].logged_in > 0


def test_hours_with_a_fifth_of_the_work_are_not_under_staffed(light):
    hours = by_hour(light)
    # Day shifts cover 06:00-18:00 fully; the evening thins as 8-hour shifts end.
    day_shifts = range(6, 18)
    assert all(hours[h].offered > 0 for h in day_shifts)
    assert all(hours[h].status != staffing.UNDER for h in day_shifts)
    assert sum(hours[h].status == staffing.OVER for h in day_shifts) >= 6


def test_channel_rows_add_up_to_the_hour_and_follow_erlang_c(overloaded):
    intervals = overloaded[0]
    (voice,) = [i for i in intervals if i.hour.hour == 10 and i.channel == "voice"]
    total = by_hour(intervals)[10]
    channels = [i for i in intervals if i.hour == total.hour and i.channel != staffing.ALL]
    assert total.offered == sum(i.offered for i in channels)
    assert total.required == sum(i.required for i in channels)
    assert voice.threshold == 20 and voice.target == 0.8
    assert voice.traffic == pytest.approx(voice.offered * voice.aht / 3600)
    assert voice.service_level >= 0.8
    assert voice.positions == math.ceil(round(voice.required / 0.7, 9))
    # Erlang A, with the patience measured from the day's abandons, needs no more agents.
    assert voice.mean_patience is not None and voice.mean_patience > 0
    assert voice.required_a <= voice.required


def test_shrinkage_and_targets_come_from_the_settings(overloaded):
    _, con, knobs = overloaded
    strict = with_overrides(
        knobs,
        staffing={"shrinkage": 0.5},
        targets={"service_level": KpiTargets(channels={"voice": TargetOverride(target=0.95)})},
    )
    default = {i.hour: i for i in staffing.staffing(con, DAY, DAY, knobs) if i.channel == "voice"}
    for i in staffing.staffing(con, DAY, DAY, strict):
        if i.channel == "voice":
            assert i.target == 0.95
            assert i.required >= default[i.hour].required
            assert i.positions == 2 * i.required
    assert staffing.staffing(con, date(2026, 2, 1), date(2026, 2, 1), knobs) == []


def test_patience_is_seconds_waited_per_abandon_and_unfinished_channels_need_no_one():
    voice = [handled_call(f"v{n}", f"2026-01-05T09:0{n}:00", customer=f"v{n}") for n in range(3)]
    voice.append(contact("v3", "2026-01-05T09:30:00", customer="v3", abandoned=60.0))
    chats = [
        contact(f"c{n}", f"2026-01-05T09:1{n}:00", channel="chat", customer=f"c{n}", abandoned=30.0)
        for n in range(2)
    ]
    knobs = settings()
    con = refreshed([*voice, *chats], knobs=knobs)
    rows = {i.channel: i for i in staffing.staffing(con, DAY, DAY, knobs)}
    # three answers after 10 s and one abandon after 60 s: 90 s waited per abandon
    assert rows["voice"].mean_patience == pytest.approx(90.0)
    assert rows["voice"].aht == 330.0 and rows["voice"].offered == 4
    assert rows["voice"].required_a is not None
    assert (rows["chat"].aht, rows["chat"].traffic, rows["chat"].required) == (None, 0.0, 0)
    assert rows["chat"].mean_patience == pytest.approx(30.0)
    assert (rows["all"].logged_in, rows["all"].status) == (0.0, staffing.UNDER)
