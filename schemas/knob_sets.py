"""Knob sets (docs/kpis.md, Knobs): the definitions the KPI marts implement and the knob values
baked into their stored counts hash to one short id, which every mart row carries and every
churn alert names (``knob_set``), so that an alert points at the mart rows made under the same
knobs. Here rather than in the warehouse because the stream computes it too.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

from schemas.settings import TENANT_KPI_KNOBS, Settings, TenantSettings
from schemas.targets import target_set

# The definitions the marts implement (kpis.md, version 1). A new version of a definition gets
# a new id here and in the SQL, so that its numbers never pass for the old ones.
DEFINITIONS = (
    "offered.v1",
    "asa.v1",
    "service_level.v1",
    "abandon_rate.v1",
    "aht.v1",
    "transfer_rate.v1",
    "first_response.v1",
    "ivr_containment.v1",
    "occupancy.v1",
    "fcr.v1",
    "fcr_net.v1",
    "fcr_channel.v1",
    "repeat_rate.v1",
    "nps.v1",
    "csat.v1",
    "ces.v1",
    "churn_risk.v1",
)

# Knobs of KpiSettings applied when reading, not baked into stored counts.
READ_TIME_KNOBS = frozenset({"abandon_treatment"})
# Knobs of ChurnSettings that only decide when the stream alerts: no mart row depends on them.
ALERT_KNOBS = frozenset({"realert_rise", "cooldown_hours"})


# The key of ``mart_knobs`` holding the tenants' reporting time zones (not a ``kpi_knobs``
# column: the marts read them from the table ``kpi_time_zones``).
TIME_ZONES = "time_zones"
# The key of ``mart_knobs`` holding the tenants' own KPI knobs ([tenants.NAME.kpis]; the marts
# read them from the table ``kpi_tenant_knobs``).
TENANT_KNOBS = "tenant_kpis"
DEFAULT_TIME_ZONE = TenantSettings().time_zone  # a tenant without a [tenants] table

Knobs = dict[str, float | int | dict[str, str]]


def reporting_time_zones(settings: Settings) -> dict[str, str]:
    """The reporting time zone of every tenant whose zone is not the default (UTC), by tenant:
    the marts attribute a tenant's contacts to the days and hours of its zone."""
    return {
        name: tenant.time_zone
        for name, tenant in sorted(settings.tenants.items())
        if tenant.time_zone != DEFAULT_TIME_ZONE
    }


def mart_knobs(settings: Settings) -> Knobs:
    """The knob values baked into the marts: the scalar ones by the column names of
    ``kpi_knobs``, and under ``time_zones`` the tenants' reporting time zones when some tenant
    does not report in UTC (left out otherwise, so that the knob sets made before time zones
    existed keep their ids)."""
    knobs: Knobs = {k: v for k, v in asdict(settings.kpis).items() if k not in READ_TIME_KNOBS}
    knobs.update(
        {f"churn_{k}": v for k, v in asdict(settings.churn).items() if k not in ALERT_KNOBS}
    )
    if time_zones := reporting_time_zones(settings):
        knobs[TIME_ZONES] = time_zones
    if tenant_knobs := tenants_kpi_knobs(settings):
        knobs[TENANT_KNOBS] = tenant_knobs
    return knobs


def tenants_kpi_knobs(settings: Settings) -> dict[str, dict[str, float]]:
    """The KPI knobs in force for every tenant with knobs of its own, by tenant: all of
    ``TENANT_KPI_KNOBS``, its own values over [kpis]'. Left out of ``mart_knobs`` when no
    tenant has any, so that the knob sets made before tenants could keep their ids."""
    return {
        name: {knob: getattr(settings.tenant_kpis(name), knob) for knob in TENANT_KPI_KNOBS}
        for name, tenant in sorted(settings.tenants.items())
        if tenant.kpis
    }


def knob_set_id(knobs: Knobs) -> str:
    """A short stable id of the definitions and knob values (same values, same id)."""
    canonical = json.dumps({"definitions": DEFINITIONS, "knobs": knobs}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def configured_targets(settings: Settings) -> tuple[str, dict]:
    """The KPI targets in force under ``settings``, resolved for every channel, and their target
    set id (``schemas.targets.target_set``): "*" for every tenant without targets of its own.
    Targets change no number, so they are not part of a knob set; reports name both."""
    own = {name: tenant.targets for name, tenant in settings.tenants.items() if tenant.targets}
    return target_set(settings.targets, own)
