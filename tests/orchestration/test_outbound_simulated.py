"""Outbound KPIs and opt-out violations of the session's simulated run against its ground truth.

Reads the outcome of ``simulated_pipeline`` (tests/simulated_pipeline.py: two simulated days
streamed through Kafka, landed and refreshed by the Dagster job) and runs nothing of its own.
The simulator's dialer syncs its do-not-call list nightly, so it calls customers who opted out
earlier the same day, and its ground truth lists each such attempt (``opt_out_violations``);
the seed of that run dials one such customer."""

from __future__ import annotations

import pytest

from tests.simulated_pipeline import FIRST_DAY, LAST_LOCAL_DAY, SimulatedPipeline
from warehouse.build import connect_read_only
from warehouse.outbound import opt_out_violations, outbound_kpis
from warehouse.staffing import staffing


@pytest.fixture(scope="module")
def outcome(simulated_pipeline: SimulatedPipeline):
    run = simulated_pipeline
    with connect_read_only(run.settings) as con:
        kpis = outbound_kpis(con, FIRST_DAY, LAST_LOCAL_DAY, run.settings)
        violations = opt_out_violations(con, FIRST_DAY, LAST_LOCAL_DAY, run.settings)
    return run.truth, kpis, violations


def materialized(run: SimulatedPipeline, asset: str) -> dict:
    """The metadata of the refresh's materialization of ``asset`` (one run over the range: an
    event per day's partition, each with the run's metadata)."""
    events = [
        e
        for e in run.refresh.get_asset_materialization_events()
        if e.asset_key.to_user_string() == asset
    ]
    metadata = [{k: v.value for k, v in e.materialization.metadata.items()} for e in events]
    assert metadata and all(m == metadata[0] for m in metadata)
    return metadata[0]


def test_opt_out_violations_equal_the_simulators_ground_truth(outcome) -> None:
    truth, _, violations = outcome
    expected = truth.ground_truth["opt_out_violations"]
    assert expected, "the simulated run should dial someone who opted out"
    ours = {
        v.contact_id: (v.campaign, v.opted_out_at.isoformat(timespec="milliseconds") + "Z")
        for v in violations
    }
    assert ours == {e["contact_id"]: (e["campaign"], e["opted_out_at"]) for e in expected}
    assert len(violations) == len(expected)  # one row per attempt


def test_outbound_kpis_count_every_simulated_dial(outcome) -> None:
    truth, kpis, _ = outcome
    outbound = [c for c in truth.contacts.values() if c["direction"] == "outbound"]
    # the simulator dials once per outbound contact
    assert sum(k.attempts for k in kpis) == len(outbound)
    assert sum(k.connected for k in kpis) == sum(c["answered_at"] is not None for c in outbound)
    handled = [c for c in outbound if c["answered_at"] and c["ended_at"]]
    assert sum(k.handled for k in kpis) == len(handled)
    handle = sum(c["talk_seconds"] + c["hold_seconds"] + (c["acw_seconds"] or 0) for c in handled)
    assert sum(k.handle_seconds for k in kpis) == pytest.approx(handle)
    assert sum(k.abandoned for k in kpis) == 0  # its predictive dialer waits for a free agent
    assert {k.dialer for k in kpis} <= {"predictive", "preview", "manual"}
    assert all(k.campaign for k in kpis)


def test_the_refresh_alerted_on_the_violations_and_stored_the_staffing(
    simulated_pipeline: SimulatedPipeline,
) -> None:
    run = simulated_pipeline
    alerts = materialized(run, "opt_out_violation_alerts")
    expected = len(run.truth.ground_truth["opt_out_violations"])
    # no channel configured in that run: counted, not sent
    assert (alerts["violations"], alerts["delivered"], alerts["channels"]) == (expected, 0, False)
    with connect_read_only(run.settings) as con:
        stored = con.execute(
            "select tenant, channel, hour_utc, required, logged_in from mart_staffing_hourly "
            "order by all"
        ).fetchall()
        computed = staffing(con, FIRST_DAY, LAST_LOCAL_DAY, run.settings)
    assert stored == sorted(
        (i.tenant, i.channel, i.hour_utc, i.required, i.logged_in) for i in computed
    )
    assert any(row[3] > 0 for row in stored)
