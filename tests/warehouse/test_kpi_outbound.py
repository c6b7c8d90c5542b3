"""Outbound KPIs (per campaign and dialer mode) and opt-out violations on hand fixtures.

Each outbound contact has the facts the stream folds (answer, end, wrap-up) and the dialer's
``outbound.attempted`` events carry campaign, dialer mode and result; the expected counts are
worked out by hand from the timelines below."""

from __future__ import annotations

from datetime import date

import pytest

from schemas.settings import TenantSettings, with_overrides
from tests.warehouse.kpi_fixtures import DAY, handled_call, kpis, settings
from tests.warehouse.outbound_fixtures import attempt, outbound, violations_day, warehouse
from warehouse.outbound import opt_out_violations, outbound_kpis


def campaign_day() -> tuple[list, list[dict]]:
    contacts = [
        # renewals, predictive
        outbound("o1", "2026-01-05T10:00:00", answered=8, ended=128, wrapped=158),  # 120 + 30
        outbound("o2", "2026-01-05T10:10:00", answered=5, hold=20, ended=205, wrapped=215),  # 210
        outbound("o3", "2026-01-05T10:20:00", ended=30, wrapped=32),  # no answer
        outbound("o4", "2026-01-05T10:30:00", ended=10, wrapped=12),  # connected, nobody spoke
        # o5: a busy line whose contact never reached the warehouse
        # renewals, preview: no answer, then a redial on the same contact that connects
        outbound("o6", "2026-01-05T11:00:00", answered=70, ended=160, wrapped=160),  # 90
        # no campaign sent, manual dialing, still ringing (no end yet)
        outbound("o7", "2026-01-05T12:00:00", answered=9),
        # an inbound call the same day: in the inbound KPIs only
        handled_call("i1", "2026-01-05T10:05:00"),
    ]
    events = [
        attempt("a1", "o1", "2026-01-05T10:00:05", result="connected", right_party=True),
        attempt("a2", "o2", "2026-01-05T10:10:03", result="connected", right_party=False),
        attempt("a3", "o3", "2026-01-05T10:20:25", result="no_answer"),
        attempt("a4", "o4", "2026-01-05T10:30:02", result="connected", right_party="yes"),
        attempt("a5", "o5", "2026-01-05T10:40:00", result="busy"),
        attempt("a6", "o6", "2026-01-05T11:00:20", result="no_answer", dialer="preview"),
        attempt("a6b", "o6", "2026-01-05T11:01:00", result="connected", dialer="preview"),
        attempt(
            "a7", "o7", "2026-01-05T12:00:05", result="connected", campaign=None, dialer="manual"
        ),
    ]
    return contacts, events


def test_outbound_kpis_per_campaign_and_dialer_mode() -> None:
    contacts, events = campaign_day()
    con = warehouse(contacts, events)
    by_key = {(k.campaign, k.dialer): k for k in outbound_kpis(con, DAY, DAY, settings())}
    assert set(by_key) == {("renewals", "predictive"), ("renewals", "preview"), (None, "manual")}

    predictive = by_key[("renewals", "predictive")]
    assert predictive.attempts == 5
    assert predictive.connected == 3  # a1, a2, a4
    # a4's right_party is not a boolean: unknown, like no attribute at all
    assert (predictive.right_party_known, predictive.right_party_contacts) == (2, 1)
    assert predictive.abandoned == 1  # o4: connected, ended without an agent
    assert predictive.handled == 2
    assert predictive.handle_seconds == 150 + 210
    assert predictive.connect_rate == pytest.approx(3 / 5)
    assert predictive.right_party_rate == pytest.approx(0.5)
    assert predictive.abandon_rate == pytest.approx(1 / 3)
    assert predictive.handle_time == pytest.approx(180.0)

    # two attempts on one contact: both are attempts, the contact is handled once
    preview = by_key[("renewals", "preview")]
    assert (preview.attempts, preview.connected, preview.handled) == (2, 1, 1)
    assert preview.handle_seconds == 90
    assert preview.right_party_rate is None

    manual = by_key[(None, "manual")]
    assert (manual.attempts, manual.connected, manual.handled, manual.abandoned) == (1, 1, 0, 0)
    assert manual.handle_time is None


def test_outbound_contacts_stay_out_of_the_inbound_kpis() -> None:
    contacts, events = campaign_day()
    con = warehouse(contacts, events)
    inbound = kpis(con)
    assert inbound[("offered.v1",)]["value"] == 1  # i1 only
    assert inbound[("aht.v1",)]["denominator"] == 1
    assert inbound[("aht.v1",)]["value"] == pytest.approx(330.0)  # i1's 300 talk + 30 ACW


def test_a_campaign_day_falls_on_the_tenants_local_day() -> None:
    tokyo = with_overrides(settings(), tenants={"acme": TenantSettings(time_zone="Asia/Tokyo")})
    contacts = [outbound("o1", "2026-01-05T16:00:00", answered=5, ended=65, wrapped=65)]
    events = [attempt("a1", "o1", "2026-01-05T16:00:02", result="connected")]
    con = warehouse(contacts, events, tokyo, day_to=date(2026, 1, 6))
    assert outbound_kpis(con, DAY, DAY, tokyo) == []  # 01:00 on the 6th in Tokyo
    (row,) = outbound_kpis(con, date(2026, 1, 6), date(2026, 1, 6), tokyo)
    assert (row.attempts, row.handled, row.handle_seconds) == (1, 1, 60.0)


def test_opt_out_violations_per_stitched_customer_scope_and_time() -> None:
    contacts, events = violations_day()
    con = warehouse(contacts, events, extra_keys=[("email:e", "erin")])
    violations = opt_out_violations(con, DAY, DAY, settings())
    found = {v.event_id: v for v in violations}
    # one row per attempt, however many requests it broke
    assert [v.event_id for v in violations] == ["a2", "a4", "a6", "a7"]
    # alice: the earliest request that covers the campaign is named; both are counted
    alice = found["a2"]
    assert (alice.opt_out_event_id, alice.opt_out_scope, alice.opt_outs_before) == ("x1", "all", 2)
    assert alice.seconds_after_opt_out == 3600
    assert (alice.customer_key, alice.campaign, alice.contact_id) == ("alice", "renewals", "o2")
    assert (found["a4"].opt_out_scope, found["a4"].dialer) == ("renewals", "preview")
    assert found["a6"].opt_out_scope == "all"  # a request without a scope
    assert found["a7"].opt_out_event_id == "x5"
