"""A tenant's own KPI knobs ([tenants.NAME.kpis], docs/tenancy.md): its contacts' KPIs are
computed with them, the other tenants' with the deployment's, under one knob set."""

from __future__ import annotations

from dataclasses import replace

from schemas.knob_sets import knob_set_id, mart_knobs
from schemas.settings import TenantSettings
from tests.warehouse.kpi_fixtures import contact, handled_call, kpis, refreshed, settings

BRAND = "brightco"


def knobs():
    """Service level at 30 s for voice in brightco (20 s for everyone else), and short
    abandons under 10 s there (5 s elsewhere)."""
    own = TenantSettings(kpis={"service_level_voice_seconds": 30.0, "short_abandon_seconds": 10})
    return replace(settings(), tenants={BRAND: own})


def calls():
    """In each tenant: a call answered after 25 s and one abandoned after 7 s."""
    return [
        handled_call("a1", "2026-01-05T09:00:00", answered=25.0),
        contact("a2", "2026-01-05T09:10:00", abandoned=7.0),
        handled_call("b1", "2026-01-05T09:00:00", answered=25.0, tenant=BRAND, customer="bob"),
        contact("b2", "2026-01-05T09:10:00", abandoned=7.0, tenant=BRAND, customer="bea"),
    ]


def test_a_tenants_own_knobs_compute_its_kpis_only() -> None:
    con = refreshed(calls(), knobs=knobs())

    values = kpis(con, ("tenant", "channel"), knobs=knobs())

    # acme: 25 s misses 20 s; the 7 s abandon is offered (not under 5 s): 0 of 2 within T
    assert values["service_level.v1", "acme", "voice"]["value"] == 0.0
    assert values["offered.v1", "acme", "voice"]["value"] == 2
    # brightco: 25 s meets 30 s; the 7 s abandon is a short abandon under 10 s: 1 of 1
    assert values["service_level.v1", BRAND, "voice"]["value"] == 1.0
    assert values["offered.v1", BRAND, "voice"]["value"] == 1


def test_a_tenants_knobs_are_part_of_the_knob_set() -> None:
    default, own = mart_knobs(settings()), mart_knobs(knobs())

    assert "tenant_kpis" not in default  # the ids of knob sets made before tenants stay
    assert own["tenant_kpis"][BRAND]["service_level_voice_seconds"] == 30.0
    assert own["tenant_kpis"][BRAND]["service_level_chat_seconds"] == 60.0
    assert knob_set_id(own) != knob_set_id(default)
    con = refreshed(calls(), knobs=knobs())
    stored = con.execute("select * from kpi_tenant_knobs").fetchall()
    assert stored == [(BRAND, 10.0, 30.0, 60.0, 900.0, 900.0, 86400.0)]
