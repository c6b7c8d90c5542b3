"""The report model built from a real warehouse (the small centre of the KPI tests landed in a
lake, the warehouse built and its marts refreshed, no broker): every number worked out by hand
or summed from the marts, the previous period, the statuses against per-tenant targets, and a
tenant's report holding only its own numbers."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from orchestration.reports import tables
from orchestration.reports.build import build_report
from orchestration.reports.model import Period, Report, Table, Tile
from schemas.knob_sets import configured_targets
from schemas.settings import TenantSettings, with_overrides
from schemas.targets import KpiTargets, TargetOverride
from tests.warehouse.kpi_fixtures import (
    DAY,
    NEXT_DAY,
    contact,
    handled_call,
    settings,
    small_centre,
    write_lake,
)
from warehouse.build import build_warehouse, connect_read_only
from warehouse.kpi_marts import refresh_marts
from warehouse.kpis import KnobSetMissing, current_knob_set

GENERATED_AT = datetime(2026, 1, 7, 6, 0, tzinfo=UTC)
BOTH_DAYS = Period.between(DAY, NEXT_DAY)
REASONS = {"v1": "billing", "v2": "billing", "v3": "billing", "v6": "cancellation"}
ACME = TenantSettings(
    display_name="Acme Ltd",
    time_zone="Europe/Paris",
    targets={
        "service_level": KpiTargets(channels={"voice": TargetOverride(target=0.65, amber=0.1)}),
        "abandon_rate": KpiTargets(target=0.1, amber=0.05),
    },
)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    """Acme's small centre (tests/warehouse/kpi_fixtures.py) with contact reasons, one dead
    letter, and brand B's two calls on the second day, landed, built and refreshed."""
    home: Path = tmp_path_factory.mktemp("report-home")
    knobs = with_overrides(settings(), home=home, tenants={"acme": ACME})
    centre = small_centre()
    centre["contacts"] = [
        dataclasses.replace(c, reason=REASONS.get(c.contact_id)) for c in centre["contacts"]
    ]
    write_lake(knobs, dead_letters=["not json {"], **centre)
    brand_b = {"tenant": "brandb", "queue": "brandb.support", "agent": "agent-9"}
    write_lake(
        knobs,
        [
            handled_call("b1", "2026-01-06T10:00:00", customer="zed", **brand_b),
            contact("b2", "2026-01-06T10:30:00", customer="yan", abandoned=60.0, **brand_b),
        ],
        partition=1,
    )
    build_warehouse(knobs, marts=lambda con: refresh_marts(con, DAY, NEXT_DAY, knobs))
    with connect_read_only(knobs) as con:
        yield con, knobs


def report(warehouse, period: Period = BOTH_DAYS, tenant: str | None = None) -> Report:
    con, knobs = warehouse
    return build_report(knobs, con, period, tenant, GENERATED_AT)


def tile(report: Report, kpi: str, channel: str | None = None) -> Tile:
    (found,) = [t for t in report.tiles if t.kpi == kpi and t.channel == channel]
    return found


def column(table: Table, name: str) -> list:
    index = table.columns.index(name)
    return [row[index] for row in table.rows]


def summed(con, select: str, tenant: str | None, channel: str | None = None):
    """An aggregate of mart_contact_kpis_hourly, for every tenant or one, and channel."""
    conditions = [
        f"{name} = '{value}'" for name, value in (("tenant", tenant), ("channel", channel)) if value
    ]
    where = f" where {' and '.join(conditions)}" if conditions else ""
    return con.execute(f"select {select} from mart_contact_kpis_hourly{where}").fetchone()[0]


def test_the_headline_tiles_are_the_hand_counted_kpis_of_the_period(warehouse):
    overall = report(warehouse)
    # acme: 7 offered (v4 is a short abandon, v5 deflected); brand B: 2
    assert tile(overall, "offered.v1").value == 9
    # voice: acme v1, v6, v7 within 20 s of 5 (v2 at 25 s, v3 abandoned); brand B: b1 of 2
    assert tile(overall, "service_level.v1", "voice").value == pytest.approx(4 / 7)
    assert tile(overall, "abandon_rate.v1").value == pytest.approx(2 / 9)
    assert tile(overall, "csat.v1").value == pytest.approx(2 / 3)  # 5 and 4 of 5, 2, 4
    assert tile(overall, "ces.v1").value == 4.5  # 7 and 2
    # ASA, AHT and service level are per channel only: no all-channel tile
    assert {t.channel for t in overall.tiles if t.kpi == "asa.v1"} == {"voice", "chat", "email"}
    assert not [t for t in overall.tiles if t.kpi in ("asa.v1", "aht.v1") and t.channel is None]


def test_every_tile_equals_the_ratio_of_the_marts_summed_counts(warehouse):
    con, _ = warehouse
    for tenant in (None, "acme", "brandb"):
        got = report(warehouse, tenant=tenant)
        assert tile(got, "offered.v1").value == summed(con, "sum(offered)", tenant)
        assert tile(got, "service_level.v1", "voice").value == pytest.approx(
            summed(
                con,
                "sum(answered_within_threshold) / (sum(answered) + sum(abandoned))",
                tenant,
                "voice",
            )
        )
        assert tile(got, "aht.v1", "voice").value == pytest.approx(
            summed(con, "sum(handle_seconds_sum) / sum(handled_contacts)", tenant, "voice")
        )
        assert tile(got, "abandon_rate.v1").value == pytest.approx(
            summed(con, "sum(abandoned) / sum(offered)", tenant)
        )


def test_statuses_follow_the_tenants_own_targets_and_the_defaults(warehouse):
    acme = report(warehouse, tenant="acme")
    # acme's voice service level target 65%, amber to 55%: 3 of 5 is amber
    sl = tile(acme, "service_level.v1", "voice")
    assert (sl.value, sl.target, sl.status) == (0.6, 0.65, "amber")
    # its abandon rate target 10%, amber to 15%: 1 of 7 (14.3%) is amber
    abandons = tile(acme, "abandon_rate.v1")
    assert (abandons.target, abandons.direction, abandons.status) == (0.1, "lower", "amber")
    # default CES target 5, amber to 4.5: exactly 4.5 is amber; CSAT 2/3 below 75% is red
    assert tile(acme, "ces.v1").status == "amber"
    assert tile(acme, "csat.v1").status == "red"
    assert tile(acme, "asa.v1", "voice").status == "green"  # 13.75 s against 20 s
    # brand B keeps the defaults: 1 of 2 within T against 80% is red
    brand_b = tile(report(warehouse, tenant="brandb"), "service_level.v1", "voice")
    assert (brand_b.value, brand_b.target, brand_b.status) == (0.5, 0.8, "red")
    assert tile(acme, "occupancy.v1").status is None  # no target


def test_the_previous_period_is_the_same_length_just_before(warehouse):
    day = report(warehouse, Period.ending("day", NEXT_DAY), "acme")
    assert day.previous == Period("day", DAY, DAY)
    sl = tile(day, "service_level.v1", "voice")
    assert (sl.value, sl.previous) == (1.0, pytest.approx(1 / 3))  # v6, v7; then v1 of 3
    abandons = tile(day, "abandon_rate.v1")
    assert (abandons.value, abandons.previous) == (0.0, 0.25)  # none of 3; v3 of 4
    # nothing before the first day: no previous value
    assert tile(report(warehouse, Period.ending("day", DAY)), "offered.v1").previous is None


def test_the_heat_map_and_the_volume_add_up_to_the_contacts_offered(warehouse):
    week = report(warehouse, Period.ending("week", DAY))
    assert (week.period.first_day, week.period.last_day) == (DAY, date(2026, 1, 11))
    offered = tile(week, "offered.v1").value
    assert sum(sum(row[1:]) for row in week.heatmap.rows) == offered == 9
    assert [row[0] for row in week.heatmap.rows] == [
        "Mon",
        "Tue",
        "Wed",
        "Thu",
        "Fri",
        "Sat",
        "Sun",
    ]
    assert week.heatmap.rows[1][1 + 10] == 2  # brand B's two calls, Tuesday 10:00-11:00
    volume = {s.name: dict(s.points) for s in week.volume_by_channel.series}
    assert sum(v for points in volume.values() for v in points.values() if v) == offered
    assert volume["email"][DAY] == 0 and volume["email"][NEXT_DAY] == 1
    assert volume["voice"][date(2026, 1, 7)] is None  # no contact at all that day
    sl_trend = next(c for c in week.trends if c.key == "trend_service_level")
    voice = dict(next(s for s in sl_trend.series if s.name == "voice").points)
    assert voice[DAY] == pytest.approx(1 / 3) and voice[NEXT_DAY] == pytest.approx(3 / 4)
    assert len(voice) == 7


def test_a_tenants_report_holds_only_its_own_numbers(warehouse):
    brand_b = report(warehouse, tenant="brandb")
    assert brand_b.display_name == "brandb" and brand_b.time_zone == "UTC"
    assert tile(brand_b, "offered.v1").value == 2
    assert [t.channel for t in brand_b.tiles if t.kpi == "service_level.v1"] == ["voice"]
    assert column(brand_b.queues, "Queue") == ["brandb.support"]
    assert column(brand_b.agents, "Agent") == ["agent-9"]
    assert "Tenant" not in brand_b.agents.columns
    dead_letters = brand_b.data_quality.rows[0]
    assert dead_letters[:2] == ("Dead letters (messages rejected)", 0)  # it had no tenant
    acme = report(warehouse, tenant="acme")
    assert acme.title == "Acme Ltd: KPI report, 5–6 Jan 2026"
    assert acme.time_zone == "Europe/Paris"
    assert tile(acme, "offered.v1").value + tile(brand_b, "offered.v1").value == 9
    overall = report(warehouse)
    assert overall.data_quality.rows[0][1] == 1
    assert set(column(overall.queues, "Tenant")) == {"acme", "brandb"}


def test_the_reasons_behind_repeats_transfers_and_abandons(warehouse):
    repeats, transfers, abandons, waits, deflections = report(warehouse, tenant="acme").reasons
    # journeys: ann v1 -> chat c1 and ben v2 -> e-mail e1 repeat; cid v3, fox v6, v7 do not
    assert repeats.rows == (
        ("billing", 3, 2, 2, pytest.approx(2 / 3)),
        ("cancellation", 1, 0, 0, 0.0),
        ("(no reason given)", 1, 0, 0, 0.0),
    )
    assert transfers.rows == (
        ("billing", 2, 1, 1, 0, 0.5),  # v1 warm
        ("cancellation", 1, 1, 0, 1, 1.0),  # v6 cold
        ("(no reason given)", 3, 0, 0, 0, 0.0),  # v7, c1, e1
    )
    assert abandons.rows == (
        ("billing", 3, 1, pytest.approx(1 / 3)),
        ("(no reason given)", 3, 0, 0.0),
        ("cancellation", 1, 0, 0.0),
    )
    assert waits.rows == (("voice", 20.0, 1, 0, 1, 0, 0),)  # v3 gave up after 40 s
    assert deflections.rows == (("self service", 1, pytest.approx(1 / 7)),)  # v5 of 7 calls


def test_the_omnichannel_view_sets_per_channel_fcr_beside_cross_channel_fcr(warehouse):
    acme = report(warehouse, tenant="acme")
    assert acme.journeys_crossed_share == 0.4  # v1 and v2's journeys, of 5
    rows = {row[0]: row for row in acme.omnichannel.rows}
    everything = rows["all channels"]
    assert everything[3:5] == (5, tile(acme, "fcr.v1").value)
    assert everything[4] == 0.2  # only v6 resolved its journey at once
    # per channel, ann's chat and ben's e-mail look like fresh contacts, resolved at once
    assert everything[1:3] == (7, pytest.approx(4 / 7))
    assert everything[5] == pytest.approx(4 / 7 - 0.2)
    assert rows["chat"][1:5] == (1, 1.0, 0, None)


def test_churn_counts_the_flagged_customers_and_their_reasons(warehouse):
    con, _ = warehouse
    churn = report(warehouse, tenant="acme").churn
    flagged = con.execute(
        "select count(*) from mart_churn_risk where as_of_day = ? and flagged and tenant = 'acme'",
        [NEXT_DAY],
    ).fetchone()[0]
    assert churn.rows[:3] == (
        ("Customers flagged at risk on 2026-01-06", flagged),
        ("Newly flagged during the period", 1),
        ("Customers flagged at risk on 2026-01-04", 0),
    )
    assert flagged == 1  # ben: NPS 3, CSAT 2, CES 2, opted out
    assert {row[0] for row in churn.rows[3:]} == {
        "Reason: NPS detractor (0-6)",
        "Reason: CSAT 1-2",
        "Reason: CES 1-3",
        "Reason: Opted out",
    }
    assert report(warehouse, tenant="brandb").churn.rows[0][1] == 0


def test_queues_and_agents_add_up_and_performers_are_ranked_fairly(warehouse, monkeypatch):
    acme = report(warehouse, tenant="acme")
    assert sum(column(acme.queues, "Offered")) == tile(acme, "offered.v1").value
    assert sum(column(acme.agents, "Handled")) == 6
    assert acme.top_performers.rows == ()  # nobody handled 20 contacts in two days
    monkeypatch.setattr(tables, "MIN_HANDLED", 1)
    monkeypatch.setattr(tables, "MIN_CSAT_ANSWERS", 1)
    acme = report(warehouse, tenant="acme")
    # agent-2: one CSAT 4 (100%); agent-1: 5 and 2 (50%); agent-3 has no CSAT answer
    assert column(acme.top_performers, "Agent") == ["agent-2"]
    assert column(acme.bottom_performers, "Agent") == ["agent-1"]


def test_data_quality_and_definitions_name_what_the_numbers_rest_on(warehouse):
    overall = report(warehouse)
    quality = {row[0]: row[1:] for row in overall.data_quality.rows}
    assert quality["Failed data checks"] == (None, None, None, "no Dagster instance")
    assert quality["Days without contacts"][0] == 0
    # the newest event: acme's opt-out at 12:00 on the 6th, 18 h before the report
    assert quality["Newest event"][2] == 18 * 3600
    definitions = {row[0]: row[1:] for row in overall.definitions.rows}
    assert "service_level_voice_seconds=20" in definitions["service_level.v1"][1]
    assert definitions["asa.v1"][2].startswith("voice <= 20 (amber to 30)")
    _, knobs = warehouse
    assert overall.knob_set == current_knob_set(knobs)
    assert overall.target_set == configured_targets(knobs)[0]


def test_numbers_of_other_knobs_are_never_compared_nor_reported(tmp_path):
    """The first day refreshed under voice T = 60 s only, the second under the settings' 20 s:
    the second day's report has no previous value (nothing comparable), and a report of the
    first day under 20 s is refused, naming what to refresh."""
    knobs = with_overrides(settings(), home=tmp_path)
    at_60 = with_overrides(knobs, kpis={"service_level_voice_seconds": 60.0})
    write_lake(knobs, **small_centre())

    def refresh(con):
        refresh_marts(con, DAY, DAY, at_60)
        refresh_marts(con, NEXT_DAY, NEXT_DAY, knobs)

    build_warehouse(knobs, marts=refresh)
    with connect_read_only(knobs) as con:
        second = build_report(knobs, con, Period.ending("day", NEXT_DAY), None, GENERATED_AT)
        sl = tile(second, "service_level.v1", "voice")
        assert (sl.value, sl.previous) == (1.0, None)
        with pytest.raises(KnobSetMissing) as refused:
            build_report(knobs, con, Period.ending("day", DAY), None, GENERATED_AT)
        assert refused.value.days == [DAY]
