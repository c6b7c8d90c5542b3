"""A report of the session's simulated run (tests/simulated_pipeline.py: two simulated days
streamed through the real broker, landed by the sink and refreshed by Dagster): every headline
number equals the KPI marts' summed counts and the simulator's ground truth, the tables add up
to the tiles, and each tenant's report holds its own numbers only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orchestration.reports.build import build_report
from orchestration.reports.model import Period, Report, Tile
from tests.simulated_pipeline import FIRST_DAY, LAST_LOCAL_DAY, SimulatedPipeline
from warehouse.build import connect_read_only

# every tenant's local days of the run: Tokyo's end a day after the UTC tenants'
PERIOD = Period.between(FIRST_DAY, LAST_LOCAL_DAY)
GENERATED_AT = datetime.combine(LAST_LOCAL_DAY + timedelta(days=1), datetime.min.time(), UTC)
# KPIs whose value is a mean of durations or scores: equal to the truth within 0.1%, as in
# tests/orchestration/test_end_to_end.py (the warehouse stores times to the millisecond).
MEANS = ("asa.v1", "aht.v1", "ces.v1")

# Each tile KPI as the marts' sums: (mart, numerator, denominator; None: a count).
FROM_THE_MARTS = {
    "offered.v1": ("mart_contact_kpis_hourly", "sum(offered)", None),
    "service_level.v1": (
        "mart_contact_kpis_hourly",
        "sum(answered_within_threshold)",
        "sum(answered) + sum(abandoned)",
    ),
    "asa.v1": ("mart_contact_kpis_hourly", "sum(answer_wait_seconds_sum)", "sum(answered)"),
    "abandon_rate.v1": ("mart_contact_kpis_hourly", "sum(abandoned)", "sum(offered)"),
    "aht.v1": ("mart_contact_kpis_hourly", "sum(handle_seconds_sum)", "sum(handled_contacts)"),
    "fcr.v1": (
        "mart_journey_kpis_daily",
        "sum(journeys_resolved_first_contact)",
        "sum(journeys)",
    ),
    "fcr_net.v1": (
        "mart_journey_kpis_daily",
        "sum(journeys_resolved_first_contact)",
        "sum(journeys) - sum(journeys_not_resolvable)",
    ),
    "nps.v1": (
        "mart_survey_kpis_daily",
        "100 * (sum(promoters) - sum(detractors))",
        "sum(nps_responses)",
    ),
    "csat.v1": ("mart_survey_kpis_daily", "sum(csat_satisfied)", "sum(csat_responses)"),
    "ces.v1": ("mart_survey_kpis_daily", "sum(ces_sum)", "sum(ces_responses)"),
    "occupancy.v1": (
        "mart_agent_occupancy_hourly",
        "sum(busy_seconds) + sum(after_contact_work_seconds)",
        "sum(busy_seconds) + sum(after_contact_work_seconds) + sum(available_seconds)",
    ),
}


@pytest.fixture(scope="module")
def simulated(simulated_pipeline: SimulatedPipeline):
    run = simulated_pipeline
    with connect_read_only(run.settings) as con:
        tenants = [
            t
            for (t,) in con.execute(
                "select distinct tenant from int_contacts order by 1"
            ).fetchall()
        ]
        reports = {
            tenant: build_report(run.settings, con, PERIOD, tenant, GENERATED_AT)
            for tenant in [None, *tenants]
        }
        yield con, run, reports


def from_the_marts(con, tile: Tile, tenant: str | None) -> float | None:
    mart, numerator, denominator = FROM_THE_MARTS[tile.kpi]
    where = ["day between $first and $last"]
    params = {"first": FIRST_DAY, "last": LAST_LOCAL_DAY}
    for name, value in (("tenant", tenant), ("channel", tile.channel)):
        if value is not None:
            where.append(f"{name} = ${name}")
            params[name] = value
    sql = f"select {numerator}, {denominator or 'null'} from {mart} where {' and '.join(where)}"
    top, bottom = con.execute(sql, params).fetchone()
    if denominator is None:
        return top
    return None if not bottom else top / bottom


def test_every_tile_of_every_report_equals_the_marts_summed_counts(simulated):
    con, _, reports = simulated
    assert len(reports) == 3  # overall and two tenants
    for tenant, report in reports.items():
        assert report.tenant == tenant
        assert len(report.tiles) >= 14  # SL, ASA and AHT per channel
        for tile in report.tiles:
            expected = from_the_marts(con, tile, tenant)
            assert tile.value == pytest.approx(expected, rel=1e-12), (
                tenant,
                tile.kpi,
                tile.channel,
            )
            assert tile.value is not None


def test_the_tiles_equal_the_simulators_ground_truth(simulated):
    _, run, reports = simulated
    kpis = run.truth.ground_truth["kpis"]
    truths = {None: kpis["overall"], **kpis["by_tenant"]}
    for tenant, report in reports.items():
        for tile in report.tiles:
            if tile.channel is not None:
                continue
            expected = truths[tenant][tile.kpi]
            tolerance = {"rel": 1e-3} if tile.kpi in MEANS else {"rel": 1e-9}
            assert tile.value == pytest.approx(expected, **tolerance), (tenant, tile.kpi)


def test_the_statuses_are_judged_against_the_default_targets(simulated):
    _, _, reports = simulated
    for report in reports.values():
        for tile in report.tiles:
            if tile.target is None:
                assert tile.status is None
                continue
            better = (
                tile.value >= tile.target
                if tile.direction == "higher"
                else tile.value <= tile.target
            )
            assert (tile.status == "green") == better, (tile.kpi, tile.channel)
        sl = next(t for t in report.tiles if t.kpi == "service_level.v1")
        assert (sl.target, sl.direction) == (0.8, "higher")
        # two days before the simulation: no data, no previous value
        assert all(t.previous is None for t in report.tiles)


def test_each_tenants_report_is_its_share_of_the_overall_report(simulated):
    _, _, reports = simulated
    overall, *tenants = reports.values()

    def offered(report: Report) -> int:
        return next(t.value for t in report.tiles if t.kpi == "offered.v1")

    assert sum(offered(r) for r in tenants) == offered(overall)
    assert all(0 < offered(r) < offered(overall) for r in tenants)
    for report in tenants:
        assert "Tenant" not in report.queues.columns
        assert report.display_name == report.tenant
    tenant_column = overall.agents.columns.index("Tenant")
    assert {row[tenant_column] for row in overall.agents.rows} == {r.tenant for r in tenants}


def test_the_tables_and_charts_add_up_to_the_tiles(simulated):
    con, _, reports = simulated
    for tenant, report in reports.items():
        offered = next(t.value for t in report.tiles if t.kpi == "offered.v1")
        assert sum(sum(row[1:]) for row in report.heatmap.rows) == offered
        assert sum(v or 0 for s in report.volume_by_channel.series for _, v in s.points) == offered
        queues_offered = report.queues.columns.index("Offered")
        assert sum(row[queues_offered] for row in report.queues.rows) == offered
        handled = report.agents.columns.index("Handled")
        (want_handled,) = con.execute(
            "select sum(handled_contacts) from mart_contact_kpis_hourly "
            "where agent is not null and ($tenant::varchar is null or tenant = $tenant)",
            {"tenant": tenant},
        ).fetchone()
        assert sum(row[handled] for row in report.agents.rows) == want_handled
        repeats, transfers, abandons, waits, _ = report.reasons
        (journeys, transferred, abandoned) = con.execute(
            "select (select count(*) from mart_journeys_recomputed where scope = 'cross_channel' "
            "  and ($tenant::varchar is null or tenant = $tenant)), "
            "(select sum(transferred_contacts) from mart_contact_kpis_hourly "
            "  where $tenant::varchar is null or tenant = $tenant), "
            "(select sum(abandoned) from mart_contact_kpis_hourly "
            "  where $tenant::varchar is null or tenant = $tenant)",
            {"tenant": tenant},
        ).fetchone()
        assert sum(row[1] for row in repeats.rows) == journeys
        assert sum(row[2] for row in transfers.rows) == transferred > 0
        assert (
            sum(row[2] for row in abandons.rows) == sum(row[2] for row in waits.rows) == abandoned
        )
        everything = next(r for r in report.omnichannel.rows if r[0] == "all channels")
        assert everything[4] == next(t.value for t in report.tiles if t.kpi == "fcr.v1")
        assert 0 < report.journeys_crossed_share < 1


def test_data_quality_counts_the_dead_letters_and_the_checks_of_the_refresh(simulated):
    con, _, reports = simulated
    quality = {row[0]: row[1:] for row in reports[None].data_quality.rows}
    # a dead letter belongs to the day of its event's time, else to the day it was rejected
    (dead,) = con.execute(
        "select count(*) from int_dead_letters where business_day between ? and ?",
        [FIRST_DAY, LAST_LOCAL_DAY],
    ).fetchone()
    assert quality["Dead letters (messages rejected)"][0] == dead > 0
    failed, _, _, detail = quality["Failed data checks"]
    assert failed == 0 and detail.endswith("checks passed")
    assert quality["Last refresh"][3].endswith("SUCCESS")
    assert quality["Journeys the stream and SQL disagree on"][0] == 0
    assert quality["Days without contacts"][0] == 0
    churn = {row[0]: row[1] for row in reports[None].churn.rows}
    (flagged,) = con.execute(
        "select count(*) from mart_churn_risk where as_of_day = ? and flagged", [LAST_LOCAL_DAY]
    ).fetchone()
    assert churn[f"Customers flagged at risk on {LAST_LOCAL_DAY}"] == flagged
