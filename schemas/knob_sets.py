"""Knob sets (docs/kpis.md, Knobs): the definitions the KPI marts implement and the knob values
baked into their stored counts hash to one short id, which every mart row carries and every
churn alert names (``knob_set``), so that an alert points at the mart rows made under the same
knobs. Here rather than in the warehouse because the stream computes it too.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

from schemas.settings import Settings
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


def mart_knobs(settings: Settings) -> dict[str, float | int]:
    """The knob values baked into the marts, by the column names of ``kpi_knobs``."""
    knobs = {k: v for k, v in asdict(settings.kpis).items() if k not in READ_TIME_KNOBS}
    knobs.update(
        {f"churn_{k}": v for k, v in asdict(settings.churn).items() if k not in ALERT_KNOBS}
    )
    return knobs


def knob_set_id(knobs: dict[str, float | int]) -> str:
    """A short stable id of the definitions and knob values (same values, same id)."""
    canonical = json.dumps({"definitions": DEFINITIONS, "knobs": knobs}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def configured_targets(settings: Settings) -> tuple[str, dict]:
    """The KPI targets in force under ``settings``, resolved for every channel, and their target
    set id (``schemas.targets.target_set``): "*" for every tenant without targets of its own.
    Targets change no number, so they are not part of a knob set; reports name both."""
    own = {name: tenant.targets for name, tenant in settings.tenants.items() if tenant.targets}
    return target_set(settings.targets, own)
