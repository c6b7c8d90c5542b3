"""One tenant's wallboard, from the latest snapshot of every stream partition (pure).

The stream publishes, per tenant and partition of its sources, a snapshot of that partition's
share (``streams.wallboard``): waiting contacts and the oldest of them, contacts in progress,
agents by state, the running counts of recent reporting days, alerts per day. A tenant's board
is their sum (the oldest wait: their minimum), with the KPIs recomputed from the summed counts
under the same definitions and abandon treatment as the reports (warehouse/kpis.py), each
coloured against the tenant's targets (schemas.targets).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from schemas.settings import Settings
from schemas.targets import resolve
from schemas.times import format_utc
from streams.wallboard import AGENT_STATES, COUNTERS


def board_clock_ms(snapshots: Iterable[Mapping[str, Any]]) -> int | None:
    """The newest event time any partition of the tenant has seen."""
    return max((s["clock_ms"] for s in snapshots if s.get("clock_ms") is not None), default=None)


def as_of_ms(clock_ms: int | None, wall_ms: int, live_within_seconds: float) -> int:
    """The board's "now": the wall clock while events are recent (live), else the newest event's
    time, so that a replay of past days shows them as they were."""
    if clock_ms is None or wall_ms - clock_ms <= live_within_seconds * 1000:
        return wall_ms
    return clock_ms


def tenant_board(
    settings: Settings, tenant: str, snapshots: list[Mapping[str, Any]], wall_ms: int
) -> dict[str, Any]:
    """The JSON of one tenant's board at wall-clock time ``wall_ms`` (epoch milliseconds)."""
    tenant_settings = settings.tenant(tenant)
    zone = ZoneInfo(tenant_settings.time_zone)
    contact_parts = [s for s in snapshots if "tiles" in s]
    clock_ms = board_clock_ms(contact_parts)
    now_ms = as_of_ms(clock_ms, wall_ms, settings.wallboard.live_within_seconds)
    day = datetime.fromtimestamp(now_ms / 1000, UTC).astimezone(zone).date().isoformat()
    agents = dict.fromkeys(AGENT_STATES, 0)
    tiles: dict[str, dict[str, Any]] = {}
    for part in contact_parts:
        for state, count in part["agents"].items():
            agents[state] = agents.get(state, 0) + count
        for name, live in part["tiles"].items():
            tile = tiles.setdefault(name, _empty_tile(name))
            tile["waiting"] += live["waiting"]
            tile["in_progress"] += live["in_progress"]
            oldest = live["oldest_waiting_ms"]
            if oldest is not None and (tile["_oldest"] is None or oldest < tile["_oldest"]):
                tile["_oldest"] = oldest
        for name, counts in part["days"].get(day, {}).items():
            tile = tiles.setdefault(name, _empty_tile(name))
            for counter in COUNTERS:
                tile["today"][counter] += counts.get(counter, 0)
    alerts = sum(s["alerts"].get(day, 0) for s in snapshots if "alerts" in s)
    treatment = settings.kpis.abandon_treatment
    out_tiles = [
        _finish(tile, now_ms, treatment, settings, tenant_settings.targets)
        for _, tile in sorted(tiles.items())
    ]
    return {
        "tenant": tenant,
        "display_name": tenant_settings.display_name or tenant,
        "time_zone": tenant_settings.time_zone,
        "day": day,
        "as_of": format_utc(now_ms / 1000),
        "as_of_ms": now_ms,
        "live": clock_ms is not None and now_ms == wall_ms,
        "newest_event_ms": clock_ms,
        "abandon_treatment": treatment,
        "agents": agents,
        "alerts_today": alerts,
        "tiles": out_tiles,
    }


def _empty_tile(name: str) -> dict[str, Any]:
    queue, _, channel = name.rpartition("|")
    return {
        "queue": queue,
        "channel": channel,
        "waiting": 0,
        "in_progress": 0,
        "_oldest": None,
        "today": dict.fromkeys(COUNTERS, 0),
    }


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _finish(
    tile: dict[str, Any], now_ms: int, treatment: str, settings: Settings, tenant_targets: Any
) -> dict[str, Any]:
    today = tile.pop("today")
    oldest = tile.pop("_oldest")
    within = today["answered_within_threshold"]
    if treatment == "positive":
        within += today["abandoned_within_threshold"]
    reached = today["answered"] + (today["abandoned"] if treatment != "ignore" else 0)
    kpis = {
        "service_level": _ratio(within, reached),
        "asa_seconds": _ratio(today["answer_wait_ms"] / 1000, today["answered"]),
        "abandon_rate": _ratio(today["abandoned"], today["offered"]),
        "aht_seconds": _ratio(today["handle_ms"] / 1000, today["handled"]),
    }
    channel = tile["channel"]
    status = {}
    for name, kpi in (
        ("service_level", "service_level.v1"),
        ("asa_seconds", "asa.v1"),
        ("abandon_rate", "abandon_rate.v1"),
        ("aht_seconds", "aht.v1"),
    ):
        target = resolve(kpi, channel, settings.targets, tenant_targets)
        status[name] = None if target is None else target.status(kpis[name])
    return {
        **tile,
        "longest_wait_seconds": None if oldest is None else max(0, now_ms - oldest) / 1000,
        **{counter: today[counter] for counter in COUNTERS},
        **kpis,
        "status": status,
    }
