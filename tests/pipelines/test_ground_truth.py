"""The ground truth, which the simulator computes from its own state, agrees with an independent
reading of the events it emitted (tests/pipelines/replay.py): contact by contact, journey by
journey and KPI by KPI."""

from __future__ import annotations

from collections import defaultdict

import pytest

from pipelines.simulator.config import SimulationConfig
from schemas.settings import KpiSettings
from tests.pii import TEST_PII_KEY
from tests.pipelines import replay
from tests.pipelines.conftest import Run, simulate_to

KPIS = KpiSettings()
PII_KEY = TEST_PII_KEY


def close_to(value: float | None) -> object:
    """Equal to within rounding of a sum, or both undefined (None)."""
    return None if value is None else pytest.approx(value, rel=1e-9)


@pytest.fixture(scope="module")
def replayed(small_run: Run) -> tuple[list[dict], dict[str, dict], replay.Customers]:
    events, _ = replay.read(small_run.lines)
    contacts = replay.fold(events, PII_KEY, KPIS)
    return events, contacts, replay.Customers(events, PII_KEY)


def test_every_contact_record_equals_the_fold_of_its_events(small_run: Run, replayed) -> None:
    _, folded, _ = replayed
    truth = {c["contact_id"]: c for c in small_run.contacts}
    assert sorted(truth) == sorted(folded)
    for contact_id, facts in truth.items():
        assert folded[contact_id] == facts, contact_id


def test_the_run_exercises_what_the_comparison_must_cover(small_run: Run) -> None:
    contacts = small_run.contacts

    def count(test) -> int:
        return sum(1 for c in contacts if test(c))

    assert count(lambda c: c["warm_transfers"]) >= 3
    assert count(lambda c: c["cold_transfers"]) >= 3
    assert count(lambda c: c["hold_seconds"] > 0) >= 10
    assert count(lambda c: c["short_abandon"]) >= 1
    assert count(lambda c: c["abandoned"] and not c["short_abandon"]) >= 5
    assert count(lambda c: c["deflection_cause"] == "front_end_message") >= 3
    assert count(lambda c: c["outage_message_heard"] and not c["deflected"]) >= 3
    assert count(lambda c: c["status"] == "incomplete") >= 1
    assert count(lambda c: c["direction"] == "outbound") >= 5
    assert count(lambda c: c["resolvable_in_one_contact"] is False) >= 5
    assert count(lambda c: c["cancellation_intent"] and c["channel"] != "voice") >= 2
    assert count(lambda c: c["nps"] is not None) >= 20
    assert {c["status"] for c in contacts} == {"closed", "incomplete"}
    assert len({c["channel"] for c in contacts}) == 5


def test_journeys_equal_the_ones_built_from_customer_id_links(small_run: Run, replayed) -> None:
    _, contacts, customers = replayed
    runs = replay.journeys(contacts, customers, KPIS.repeat_window_days)
    expected = {
        run[0]["contact_id"]: {
            "contact_ids": [c["contact_id"] for c in run],
            "channels": list(dict.fromkeys(c["channel"] for c in run)),
            "resolved_at_first_contact": replay.resolved_first(run),
            "last_disposition": run[-1]["disposition"],
            "customer_key": customers.key(
                run[0]["tenant"], customers.of_contact(run[0]["tenant"], run[0]["contact_id"])
            ),
        }
        for run in runs
    }
    truth = {
        j["journey_id"]: {name: j[name] for name in next(iter(expected.values()))}
        for j in small_run.journeys
    }
    assert truth == expected
    assert any(len(run) >= 2 for run in runs)
    assert any(len(set(j["channels"])) >= 2 for j in truth.values())


def test_overall_kpis_agree_with_the_recomputation(small_run: Run, replayed) -> None:
    events, contacts, customers = replayed
    truth = small_run.truth["kpis"]["overall"]
    recomputed = replay.contact_kpis(list(contacts.values()), KPIS)
    for kpi, value in recomputed.items():
        assert truth[kpi] == close_to(value), kpi
    assert truth["occupancy.v1"] == pytest.approx(replay.occupancy(events)["all"], rel=1e-9)
    runs = replay.journeys(contacts, customers, KPIS.repeat_window_days)
    assert truth["fcr.v1"] == pytest.approx(sum(map(replay.resolved_first, runs)) / len(runs))
    assert truth["repeat_rate.v1"] == pytest.approx(sum(map(len, runs)) / len(runs))
    channel_runs = replay.journeys(contacts, customers, KPIS.repeat_window_days, per_channel=True)
    fcr_channel = sum(map(replay.resolved_first, channel_runs)) / len(channel_runs)
    assert truth["fcr_channel.v1"] == pytest.approx(fcr_channel)


@pytest.mark.parametrize("grouping", ["by_tenant", "by_channel", "by_day"])
def test_grouped_kpis_agree_with_the_recomputation(small_run: Run, replayed, grouping) -> None:
    events, contacts, _ = replayed
    field = {"by_tenant": "tenant", "by_channel": "channel", "by_day": "started_at"}[grouping]
    groups: dict[str, list[dict]] = defaultdict(list)
    for c in contacts.values():
        groups[c[field][:10] if field == "started_at" else c[field]].append(c)
    truth = small_run.truth["kpis"][grouping]
    assert sorted(truth) == sorted(groups)
    for key, members in groups.items():
        for kpi, value in replay.contact_kpis(members, KPIS).items():
            assert truth[key][kpi] == close_to(value), (key, kpi)
    if grouping != "by_channel":
        by = replay.occupancy(
            events,
            key=(lambda e: e["tenant"])
            if grouping == "by_tenant"
            else (lambda e: e["occurred_at"][:10]),
        )
        for key, value in by.items():
            assert truth[key]["occupancy.v1"] == pytest.approx(value, rel=1e-9), key


def test_kpis_are_in_plausible_ranges_on_the_default_day(default_day: Run) -> None:
    overall = default_day.truth["kpis"]["overall"]
    voice = default_day.truth["kpis"]["by_channel"]["voice"]
    assert 10_000 < default_day.truth["faults"]["events"] < 100_000
    assert 0.2 <= voice["transfer_rate.v1"] <= 0.3  # tier 1 cannot solve 20-30% of calls
    assert 0.6 <= voice["service_level.v1"] <= 0.95
    assert 0.02 <= overall["abandon_rate.v1"] <= 0.15
    assert 0.5 <= overall["occupancy.v1"] <= 0.9
    assert 0.4 <= overall["fcr.v1"] < overall["fcr_net.v1"] <= 0.85
    assert -40 <= overall["nps.v1"] <= 60
    assert 0.0 < overall["ivr_containment.v1.front_end_message"] < overall["ivr_containment.v1"]


def test_every_group_reports_every_kpi_id(small_run: Run) -> None:
    kpis = small_run.truth["kpis"]
    ids = set(kpis["overall"])
    assert {"aht.v1", "first_response.v1.p90", "csat.v1.mean", "ces.v1.share_5_7"} <= ids
    assert {"transfer_rate.v1.warm", "ivr_containment.v1.front_end_message"} <= ids
    assert {"service_level.v1.ignore", "service_level.v1.positive"} <= ids
    for grouping in ("by_tenant", "by_channel", "by_day"):
        for key, values in kpis[grouping].items():
            assert set(values) == ids, (grouping, key)
    assert kpis["by_channel"]["voice"]["first_response.v1"] is None
    assert kpis["by_channel"]["chat"]["ivr_containment.v1"] is None
    assert kpis["by_channel"]["chat"]["occupancy.v1"] is None


def test_an_overloaded_centre_works_off_its_backlog_and_stays_consistent(tmp_path) -> None:
    """Twice the work the staff can carry: agents stay in overtime into the next morning's
    shift, and every contact still closes with facts equal to the fold of its events."""
    run = simulate_to(tmp_path, SimulationConfig(agents=4, tenants=1, days=3, load=1.6))
    folded = replay.fold(replay.read(run.lines)[0], PII_KEY, KPIS)
    assert {c["contact_id"]: c for c in run.contacts} == folded
    statuses = {c["contact_id"]: c["status"] for c in run.contacts}
    assert {cid for cid, s in statuses.items() if s != "closed"} == set(
        run.truth["incomplete_contacts"]
    )
    assert run.truth["kpis"]["overall"]["abandon_rate.v1"] > 0.2
