"""KPI targets (docs/kpis.md, Targets): what a centre aims for, which way is better, and how far
off target a value may be before it turns from amber to red.

Pure: no settings are read here. ``schemas.settings`` holds the configured overrides
(``[targets.<kpi>]`` and ``[tenants.NAME.targets.<kpi>]``, each with optional
``channels.<channel>`` tables) as :class:`KpiTargets`; :func:`resolve` layers them over the
defaults below, and :func:`target_set` gives the exact targets a report used, with a short id.

Values are in the KPI's base unit, as the marts give it: fractions (0.8 for 80%), seconds, NPS
points (-100..100), the CES mean (1..7).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from schemas.models import Channel

DIRECTIONS = ("higher", "lower")
CHANNELS = tuple(channel.value for channel in Channel)


@dataclass(frozen=True)
class Target:
    """The target of one KPI (for one tenant and channel): ``value``, which ``direction`` is
    better, and ``amber``, how far beyond the target (in the KPI's unit) a value is amber."""

    kpi: str  # definition id: "service_level.v1"
    value: float
    direction: str  # "higher" | "lower" (is better)
    amber: float

    def status(self, value: float | None) -> str | None:
        """green: on or better than target; amber: worse by at most ``amber``; else red.
        None without a value (no contacts, no answers)."""
        if value is None:
            return None
        sign = 1 if self.direction == "higher" else -1
        if _at_least(sign * value, sign * self.value):
            return "green"
        if _at_least(sign * value, sign * self.value - self.amber):
            return "amber"
        return "red"


def _at_least(value: float, bound: float) -> bool:
    # 0.8 - 0.05 is 0.75000000000000011 in binary: a value exactly on a band's edge is inside.
    return value >= bound or math.isclose(value, bound, rel_tol=1e-9, abs_tol=1e-12)


@dataclass(frozen=True)
class TargetOverride:
    """Configured fields of a target; None keeps the value of the layer below."""

    target: float | None = None
    amber: float | None = None
    direction: str | None = None


@dataclass(frozen=True)
class KpiTargets(TargetOverride):
    """One ``[targets.<kpi>]`` table: the KPI's target for every channel, and per channel."""

    channels: dict[str, TargetOverride] = field(default_factory=dict)


@dataclass(frozen=True)
class KpiGoal:
    """What a KPI's targets are measured in and its defaults (all channels, then per channel)."""

    kpi: str
    unit: str  # "fraction" | "seconds" | "points" | "score"
    low: float  # the values a target may take
    high: float | None
    default: KpiTargets


# The values a target may take, per unit: CES is a mean on 1..7.
_RANGES = {"fraction": (0, 1), "seconds": (0, None), "points": (-100, 100), "score": (1, 7)}


def _goal(kpi: str, unit: str, default: KpiTargets) -> KpiGoal:
    return KpiGoal(kpi, unit, *_RANGES[unit], default)


def _per_channel(direction: str, values: Mapping[str, tuple[float, float]]) -> KpiTargets:
    return KpiTargets(
        direction=direction,
        channels={c: TargetOverride(target=v, amber=a) for c, (v, a) in values.items()},
    )


# The defaults and why: docs/kpis.md, Targets. ASA and AHT differ so much between channels that
# they have no all-channel target (and no all-channel tile: an e-mail's day and a call's seconds
# do not average into anything).
GOALS: dict[str, KpiGoal] = {
    "service_level": _goal("service_level.v1", "fraction", KpiTargets(0.80, 0.05, "higher")),
    "abandon_rate": _goal("abandon_rate.v1", "fraction", KpiTargets(0.05, 0.03, "lower")),
    "asa": _goal(
        "asa.v1",
        "seconds",
        _per_channel(
            "lower",
            {
                "voice": (20, 10),
                "chat": (60, 30),
                "sms": (900, 450),
                "social": (900, 450),
                "email": (86400, 43200),
            },
        ),
    ),
    "aht": _goal(
        "aht.v1",
        "seconds",
        _per_channel(
            "lower",
            {
                "voice": (360, 72),
                "chat": (600, 120),
                "sms": (600, 120),
                "social": (600, 120),
                "email": (480, 96),
            },
        ),
    ),
    "fcr": _goal("fcr.v1", "fraction", KpiTargets(0.70, 0.05, "higher")),
    "fcr_net": _goal("fcr_net.v1", "fraction", KpiTargets(0.75, 0.05, "higher")),
    "nps": _goal("nps.v1", "points", KpiTargets(30, 10, "higher")),
    "csat": _goal("csat.v1", "fraction", KpiTargets(0.80, 0.05, "higher")),
    "ces": _goal("ces.v1", "score", KpiTargets(5.0, 0.5, "higher")),
}
GOAL_BY_KPI = {goal.kpi: name for name, goal in GOALS.items()}


def check_targets(targets: Mapping[str, KpiTargets]) -> None:
    """A ValueError naming the first bad field (``asa.channels.fax: ...``) of configured targets."""
    for name, kpi_targets in targets.items():
        goal = GOALS.get(name)
        if goal is None:
            raise ValueError(f"{name}: no KPI of that name has a target; choose among {_names()}")
        _check_override(goal, kpi_targets, name)
        for channel, override in kpi_targets.channels.items():
            where = f"{name}.channels.{channel}"
            if channel not in CHANNELS:
                raise ValueError(f"{where}: {channel!r} is not a channel ({', '.join(CHANNELS)})")
            _check_override(goal, override, where)


def _names() -> str:
    return ", ".join(GOALS)


def _check_override(goal: KpiGoal, override: TargetOverride, where: str) -> None:
    if override.direction is not None and override.direction not in DIRECTIONS:
        raise ValueError(
            f"{where}.direction: {override.direction!r} is not one of {', '.join(DIRECTIONS)}"
        )
    if override.amber is not None and not override.amber >= 0:
        raise ValueError(f"{where}.amber: {override.amber!r} must be 0 or more")
    value = override.target
    if value is None:
        return
    if not value >= goal.low or (goal.high is not None and not value <= goal.high):
        hint = f" (write {value / 100:g} for {value:g}%)" if goal.unit == "fraction" else ""
        span = f"{goal.low}..{goal.high}" if goal.high is not None else f"at least {goal.low}"
        raise ValueError(
            f"{where}.target: {value!r} is outside {span}, in {goal.unit}s of {goal.kpi}{hint}"
        )


def resolve(
    kpi: str,
    channel: str | None,
    configured: Mapping[str, KpiTargets],
    tenant: Mapping[str, KpiTargets] | None = None,
) -> Target | None:
    """The target of KPI ``kpi`` (definition id) for ``channel`` (None: all channels): the
    defaults, then the global ``[targets]``, then the tenant's, each all-channel first, then for
    the channel; a field left unset keeps the value below. None when no layer sets a target."""
    name = GOAL_BY_KPI.get(kpi)
    if name is None:
        return None
    value = amber = direction = None
    for layer in (GOALS[name].default, configured.get(name), (tenant or {}).get(name)):
        if layer is None:
            continue
        for override in (layer, layer.channels.get(channel) if channel else None):
            if override is None:
                continue
            value = value if override.target is None else override.target
            amber = amber if override.amber is None else override.amber
            direction = direction if override.direction is None else override.direction
    if value is None:
        return None
    # floats, so that amber = 10 and amber = 10.0 are the same target (and target set id)
    return Target(kpi, float(value), direction or "higher", float(amber or 0))


def target_set(
    configured: Mapping[str, KpiTargets], tenants: Mapping[str, Mapping[str, KpiTargets]]
) -> tuple[str, dict[str, dict[str, dict[str, dict[str, object]]]]]:
    """Every target in force, resolved, and its short id (same targets, same id), as knob sets
    are named: ``{"*" or tenant: {kpi id: {"all" or channel: {"value", "direction", "amber"}}}}``,
    "*" for tenants without their own targets."""
    resolved = {
        who: {
            goal.kpi: {
                channel or "all": asdict(target)
                for channel in (None, *CHANNELS)
                if (target := resolve(goal.kpi, channel, configured, overrides)) is not None
            }
            for goal in GOALS.values()
        }
        for who, overrides in {"*": {}, **tenants}.items()
    }
    for by_kpi in resolved.values():
        for by_channel in by_kpi.values():
            for target in by_channel.values():
                del target["kpi"]
    canonical = json.dumps(resolved, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12], resolved
