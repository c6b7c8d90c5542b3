"""Build the centre a run simulates: tenants (client brands of one BPO), their ACD queues,
agent teams with skills, each day's shifts and breaks, and the arrival volumes the staffing
can carry.

Teams per tenant: ``voice`` agents, ``digital`` agents (chat, then SMS/social, then e-mail),
``tier2`` agents (tier-2 voice) and, in larger teams, ``outbound`` agents who dial campaigns and
take voice calls in between. Shifts are placed to follow the demand of
the day and always cover the opening hours (06:00-22:00 UTC) of every queue.
"""

from __future__ import annotations

import math
import random
from datetime import timedelta
from functools import cache

from pipelines.simulator.catalog import (
    CLOSE_HOUR,
    DAY_OF_WEEK_FACTOR,
    DIGITAL_WORK,
    HANDLE_SECONDS,
    OPEN_HOUR,
    PROFILES,
    TENANT_NAMES,
    TENANT_WEIGHTS,
)
from pipelines.simulator.clock import DAY, HOUR, MINUTE, epoch_ms
from pipelines.simulator.config import SimulationConfig
from pipelines.simulator.ids import RunIds
from pipelines.simulator.model import Agent, Queue, Tenant
from schemas.settings import Settings

# (skill, priority attribute) of each ACD queue of a tenant
QUEUE_SKILLS = (("voice", 1), ("chat", 2), ("messaging", 3), ("email", 4), ("voice_t2", 1))
ROLE_SKILLS = {
    "voice": ("voice",),
    "digital": ("chat", "messaging", "email"),
    "tier2": ("voice_t2",),
    "outbound": ("voice",),
}
CHANNEL_SKILL = {"voice": "voice", "chat": "chat", "sms": "messaging", "social": "messaging"}
CHANNEL_SKILL["email"] = "email"

SHIFT_HOURS = 8
_SLOT = 30 * MINUTE
_OPEN_SLOTS = (CLOSE_HOUR - OPEN_HOUR) * 2  # half-hours the centre is open
_SHIFT_SLOTS = SHIFT_HOURS * 2

# Shift event kinds the engine schedules.
SHIFT_START, BREAK_DUE, SHIFT_END = "shift_start", "break_due", "shift_end"


def build_tenants(config: SimulationConfig, ids: RunIds, settings: Settings) -> list[Tenant]:
    """The tenants of the run; each reports in its ``[tenants.NAME]`` time zone of ``settings``
    (its ground truth's days; the centre's opening hours stay those of the simulator, UTC)."""
    tenants = [
        Tenant(i, TENANT_NAMES[i], settings.tenant(TENANT_NAMES[i]).time_zone)
        for i in range(config.tenants)
    ]
    for tenant in tenants:
        for skill, priority in QUEUE_SKILLS:
            tenant.queues[skill] = Queue(tenant, skill, priority)
        tenant.outbound = Queue(tenant, "outbound", 1)
        t = tenant.idx
        tenant.companies = ids.switchboards(t)
        tenant.families = [ids.household_email(name) for name in ("morel", "nguyen", "haddad")]
        short = tenant.short
        tenant.campaigns = [
            (f"{short}-renewal-2026", "predictive", "contract_renewal"),
            (f"{short}-satisfaction-callback", "preview", "satisfaction_callback"),
        ]
    _staff(config, tenants, ids)
    return tenants


def _staff(config: SimulationConfig, tenants: list[Tenant], ids: RunIds) -> None:
    weights = TENANT_WEIGHTS[: len(tenants)]
    total = sum(weights)
    sizes = [max(3, int(config.agents * w / total)) for w in weights]
    while sum(sizes) > config.agents:  # the minimum of 3 a team was paid by the largest
        sizes[sizes.index(max(sizes))] -= 1
    sizes[0] += config.agents - sum(sizes)  # the largest brand takes the rounding
    number = 0
    for tenant, size in zip(tenants, sizes, strict=True):
        for role, count in _team(size):
            queues = [tenant.queues[skill] for skill in ROLE_SKILLS[role]]
            for _ in range(count):
                number += 1
                agent = Agent(ids.agent(number), tenant, role, queues)
                for queue in queues:
                    queue.agents.append(agent)
                if role == "outbound":
                    tenant.outbound.agents.append(agent)
                tenant.agents.append(agent)


def _team(size: int) -> list[tuple[str, int]]:
    tier2 = max(1, round(0.18 * size))
    outbound = max(1, round(0.08 * size)) if size >= 6 else 0
    rest = size - tier2 - outbound
    digital = max(1, round(0.4 * rest))
    return [
        ("voice", rest - digital),
        ("digital", digital),
        ("tier2", tier2),
        ("outbound", outbound),
    ]


def plan_shifts(
    config: SimulationConfig, tenants: list[Tenant], rng: random.Random
) -> list[tuple[int, str, Agent, int]]:
    """Every shift event of the run, ``(time, kind, agent, break ms)``, and the arrival volume
    of each tenant, channel and day (stored on the tenant) that the planned staffing carries.
    A closed day has no shift and no volume."""
    start = epoch_ms(config.start)
    events = []
    for tenant in tenants:
        tenant.volumes = []
        for day in range(config.days):
            if config.is_closed(config.start + timedelta(days=day)):
                tenant.volumes.append(_volumes({}, config.load))  # nobody works, nobody calls
                continue
            factor = DAY_OF_WEEK_FACTOR[(config.start.weekday() + day) % 7]
            midnight = start + day * DAY
            capacity: dict[str, float] = {}
            for role in ROLE_SKILLS:
                team = [a for a in tenant.agents if a.role == role]
                if not team:
                    continue
                working = max(1, round(len(team) * factor))
                offset = day % len(team)  # rotate who works the lighter days
                crew = [team[(offset + i) % len(team)] for i in range(working)]
                seconds = 0.0
                for agent, (first, last) in zip(crew, _shift_slots(working, role), strict=True):
                    shift_start = midnight + OPEN_HOUR * HOUR + first * _SLOT
                    shift_end = midnight + OPEN_HOUR * HOUR + last * _SLOT
                    events.append((shift_start, SHIFT_START, agent, 0))
                    breaks = _breaks(shift_start, shift_end, rng)
                    events += [(at, BREAK_DUE, agent, length) for at, length in breaks]
                    events.append((shift_end, SHIFT_END, agent, 0))
                    seconds += (shift_end - shift_start - sum(b for _, b in breaks)) / 1000
                capacity[role] = seconds
            tenant.volumes.append(_volumes(capacity, config.load))
    events.sort(key=lambda e: (e[0], e[2].id, e[1]))
    return events


def _volumes(capacity: dict[str, float], load: float) -> dict[str, float]:
    """Expected arrivals per channel for a day, from the productive seconds of each team."""
    voice_seconds = capacity.get("voice", 0.0) + 0.6 * capacity.get("outbound", 0.0)
    volumes = {"voice": load * voice_seconds / HANDLE_SECONDS["voice"]}
    for channel, share in DIGITAL_WORK.items():
        volumes[channel] = load * capacity.get("digital", 0.0) * share / HANDLE_SECONDS[channel]
    return volumes


def _breaks(shift_start: int, shift_end: int, rng: random.Random) -> list[tuple[int, int]]:
    """A break every two hours, alternately 15 and 30 minutes, none in the last hour."""
    breaks = []
    number = 1
    while shift_start + number * 2 * HOUR < shift_end - HOUR:
        at = shift_start + number * 2 * HOUR + rng.randrange(-15 * MINUTE, 15 * MINUTE)
        breaks.append((at, (15 if number % 2 else 30) * MINUTE))
        number += 1
    return breaks


@cache
def _shift_slots(working: int, role: str) -> tuple[tuple[int, int], ...]:
    """(first, last) half-hour slots of each shift from 06:00: one long shift for a team of
    one, otherwise 8-hour shifts from 06:00 and until 22:00 placed where demand is uncovered."""
    if working == 1:
        return ((0, _OPEN_SLOTS),)
    demand = _demand(role)
    scale = working * _SHIFT_SLOTS / sum(demand)
    # Square-root staffing: a small crew needs relatively more headroom than a large one.
    needed = [d * scale + math.sqrt(d * scale) for d in demand]
    target = [n * working * _SHIFT_SLOTS / sum(needed) for n in needed]
    cover = [0] * _OPEN_SLOTS
    starts = [0, _OPEN_SLOTS - _SHIFT_SLOTS]
    for first in starts:
        for slot in range(first, first + _SHIFT_SLOTS):
            cover[slot] += 1
    for _ in range(working - 2):
        best = max(
            range(_OPEN_SLOTS - _SHIFT_SLOTS + 1),
            key=lambda s: (
                sum(max(0.0, target[i] - cover[i]) for i in range(s, s + _SHIFT_SLOTS)),
                -s,
            ),
        )
        starts.append(best)
        for slot in range(best, best + _SHIFT_SLOTS):
            cover[slot] += 1
    return tuple((s, s + _SHIFT_SLOTS) for s in sorted(starts))


def _demand(role: str) -> list[float]:
    """Relative work per half-hour slot for a team."""
    if role == "digital":
        hourly = [
            sum(PROFILES[c][h] / sum(PROFILES[c]) * w for c, w in DIGITAL_WORK.items())
            for h in range(CLOSE_HOUR - OPEN_HOUR)
        ]
    else:
        hourly = list(PROFILES["voice"])
    return [hourly[slot // 2] for slot in range(_OPEN_SLOTS)]
