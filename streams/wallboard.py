"""The live wallboard's state: the queues right now and today so far, per tenant, queue and channel.

Pure, like the other stages: :class:`WallboardStage` takes one partition's canonical events (from
the ``events`` topic, so already validated, routed and mostly de-duplicated) a batch at a time,
keeps its state in the ``MutableMapping`` it is given (a Faust table in a worker), and returns
the snapshots to publish on the compacted ``wallboard`` topic, one per tenant it touched, keyed
``<tenant>|contacts|<partition>``. The web app (``orchestration.wallboard``) adds up the latest
snapshot of every partition. :class:`AlertTally` does the same for the ``alerts`` topic.

Every contact's events are kept in the contact fold's own form (``streams.contacts``) and folded
with its ``fold_contact``, so the counts use exactly the facts and definitions the reports use
(``warehouse/sql/marts/kpi_contacts.sql``): a contact belongs to its tenant's reporting day of
its start (else first queueing, else answer) and to its first queue. Each contact's share of the
board (its *contribution*) is stored with it, and a new event retracts the old share and adds the
new one: late and out-of-order events move a contact between "waiting", "in progress" and the
day's counts as its facts change, and a duplicate event id changes nothing.

Stored keys: ``c|<contact_id>`` ``{"s": contact state, "p": contribution | None}``,
``g|<agent_id>`` ``{"t": tenant, "s": state, "at": [ms, event_id]}``, ``b`` the boards of every
tenant of the partition, ``k`` the partition's event clock (epoch seconds).
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, MutableMapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from schemas.settings import Settings
from schemas.times import parse_rfc3339
from streams.contacts import add_event, contact_status, fold_contact, is_contact_event, new_state
from streams.json_bytes import json_bytes

AGENT_STATES = ("available", "busy", "after_contact_work", "break", "offline")
# The day's running counts of a tile; *_ms are sums of milliseconds.
COUNTERS = (
    "offered",
    "answered",
    "abandoned",
    "short_abandons",
    "answered_within_threshold",
    "abandoned_within_threshold",
    "answer_wait_ms",
    "handled",
    "handle_ms",
)
Produced = tuple[bytes | None, bytes]


class WallboardKnobs:
    """What the stage needs from the settings: the KPI knobs and each tenant's time zone."""

    __slots__ = ("idle_timeout_ms", "lateness", "retention_ms", "short_abandon_ms", "sl_ms", "zone")

    def __init__(self, settings: Settings) -> None:
        kpis = settings.kpis
        self.short_abandon_ms = round(kpis.short_abandon_seconds * 1000)
        self.sl_ms = {
            channel: round(kpis.service_level_seconds(channel) * 1000)
            for channel in ("voice", "chat", "sms", "social", "email")
        }
        self.idle_timeout_ms = settings.stream.idle_timeout_seconds * 1000
        self.lateness = settings.stream.lateness_seconds
        self.retention_ms = settings.stream.contact_retention_days * 86400 * 1000
        zones = {name: tenant.time_zone for name, tenant in settings.tenants.items()}
        self.zone: Callable[[str], ZoneInfo] = lambda tenant: _zone(zones.get(tenant, "UTC"))

    def day(self, tenant: str, ms: int) -> str:
        """The tenant's reporting day of an instant (epoch milliseconds)."""
        return (
            datetime.fromtimestamp(ms / 1000, UTC).astimezone(self.zone(tenant)).date().isoformat()
        )


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _ms(text: str | None) -> int | None:
    return None if text is None else round(parse_rfc3339(text) * 1000)


def contribution(
    facts: dict[str, Any], knobs: WallboardKnobs, last_ms: int
) -> dict[str, Any] | None:
    """A contact's share of its tenant's board, from its folded facts (``fold_contact``); None
    for a contact on no board (outbound, or never queued nor answered).

    The day's counts follow kpi_contacts.sql; "waiting" is an open inbound contact queued and not
    yet answered, abandoned, ended or deflected; "in progress" one answered and not yet ended."""
    if facts["direction"] == "outbound" or not facts["queues"]:
        return None
    queued, answered = _ms(facts["first_queued_at"]), _ms(facts["answered_at"])
    abandoned_at = _ms(facts["abandoned_at"])
    attributed = _ms(facts["started_at"]) or queued or answered
    if queued is None or attributed is None:
        return None
    channel = facts["channel"]
    threshold = knobs.sl_ms.get(channel, 0)
    short = facts["short_abandon"]
    counts: dict[str, int] = {}
    if short:
        counts["short_abandons"] = 1
    else:
        counts["offered"] = 1
        if abandoned_at is not None:
            counts["abandoned"] = 1
            if abandoned_at - queued <= threshold:
                counts["abandoned_within_threshold"] = 1
    if answered is not None:
        counts["answered"] = 1
        counts["answer_wait_ms"] = answered - queued
        if answered - queued <= threshold:
            counts["answered_within_threshold"] = 1
        if facts["ended_at"] is not None:
            counts["handled"] = 1
            handle = (facts["talk_seconds"] or 0) + facts["hold_seconds"]
            counts["handle_ms"] = round((handle + (facts["acw_seconds"] or 0)) * 1000)
    is_open = facts["status"] == "open"
    finished = abandoned_at is not None or facts["ended_at"] is not None or facts["deflected"]
    return {
        "t": facts["tenant"],
        "tile": f"{facts['queues'][0]}|{channel}",
        "day": knobs.day(facts["tenant"], attributed),
        "n": counts,
        "w": queued if is_open and answered is None and not finished else None,
        "talk": is_open and answered is not None and not finished,
        "last": last_ms,
    }


def _board(boards: dict[str, Any], tenant: str) -> dict[str, Any]:
    board = boards.get(tenant)
    if board is None:
        board = boards[tenant] = {"tiles": {}, "agents": {}, "days": {}}
    return board


def _apply(boards: dict[str, Any], share: dict[str, Any], contact_id: str, sign: int) -> None:
    """Add (sign 1) or retract (sign -1) a contribution."""
    board = _board(boards, share["t"])
    tile = board["tiles"].setdefault(share["tile"], {"waiting": {}, "talking": {}})
    if share["w"] is not None:
        if sign > 0:
            tile["waiting"][contact_id] = [share["w"], share["last"]]
        else:
            tile["waiting"].pop(contact_id, None)
    if share["talk"]:
        if sign > 0:
            tile["talking"][contact_id] = share["last"]
        else:
            tile["talking"].pop(contact_id, None)
    day = board["days"].setdefault(share["day"], {}).setdefault(share["tile"], {})
    for name, value in share["n"].items():
        day[name] = day.get(name, 0) + sign * value


class WallboardStage:
    """One partition of the ``events`` topic folded into its tenants' boards."""

    __slots__ = ("_expiries", "knobs", "partition", "store", "too_late")

    def __init__(
        self, knobs: WallboardKnobs, store: MutableMapping[str, Any], partition: int
    ) -> None:
        self.knobs = knobs
        self.store = store
        self.partition = partition
        self.too_late = 0  # events of contacts already pruned: not folded
        # (last_ms + retention, contact_id): when a contact's state may be dropped. Rebuilt
        # from the store, so a restarted worker prunes what the old one would have.
        self._expiries: list[tuple[float, str]] = []
        for key, entry in store.items():
            if key.startswith("c|"):
                self._expire_later(key[2:], entry["s"]["last_ms"])

    def process(self, events: Iterable[dict[str, Any]]) -> list[Produced]:
        """Fold a batch of canonical events; the snapshots of the tenants it changed."""
        store, knobs = self.store, self.knobs
        boards: dict[str, Any] = store.get("b") or {}
        clock: float = store.get("k", -math.inf)
        touched: set[str] = set()
        by_contact: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for event in events:
            clock = max(clock, event["ts"])
            if event["event_type"] == "agent.state_changed" and event.get("agent_id"):
                touched |= self._agent(boards, event)
            elif is_contact_event(event):
                by_contact[event["contact_id"]].append(event)
        watermark = clock - knobs.lateness
        horizon_ms = watermark * 1000 - knobs.retention_ms
        for contact_id, contact_events in by_contact.items():
            entry = store.get(f"c|{contact_id}")
            if entry is None:
                if all(e["ts"] * 1000 <= horizon_ms for e in contact_events):
                    self.too_late += len(contact_events)
                    continue
                first = contact_events[0]
                entry = {"s": new_state(first["tenant"], first.get("channel")), "p": None}
            changed = False
            for event in contact_events:
                changed = add_event(entry["s"], event) or changed
            if changed:
                touched |= self._refresh(boards, contact_id, entry, watermark)
                self._expire_later(contact_id, entry["s"]["last_ms"])
        touched |= self._time_out(boards, watermark)
        self._prune(boards, watermark)
        store["b"] = boards
        store["k"] = clock
        return [self._snapshot(boards, tenant, clock) for tenant in sorted(touched)]

    def snapshot(self, tenant: str) -> Produced:
        """The snapshot of ``tenant`` as the store holds it now."""
        return self._snapshot(self.store.get("b") or {}, tenant, self.store.get("k", -math.inf))

    def _agent(self, boards: dict[str, Any], event: dict[str, Any]) -> set[str]:
        """An agent's current state is its latest state change by event time (then event id):
        a late change does not override a newer one, a duplicate changes nothing. The tenants
        whose boards changed."""
        state = (event.get("attributes") or {}).get("state")
        if state not in AGENT_STATES:
            return set()
        key = f"g|{event['agent_id']}"
        at = [round(event["ts"] * 1000), event["event_id"]]
        known = self.store.get(key)
        if known is not None and known["at"] >= at:
            return set()
        touched = {event["tenant"]}
        if known is not None:
            _board(boards, known["t"])["agents"][known["s"]] -= 1
            touched.add(known["t"])
        agents = _board(boards, event["tenant"])["agents"]
        agents[state] = agents.get(state, 0) + 1
        self.store[key] = {"t": event["tenant"], "s": state, "at": at}
        return touched

    def _refresh(
        self, boards: dict[str, Any], contact_id: str, entry: dict[str, Any], watermark: float
    ) -> set[str]:
        state, knobs = entry["s"], self.knobs
        status = contact_status(state, watermark * 1000, knobs.idle_timeout_ms)
        facts = fold_contact(contact_id, state, knobs.short_abandon_ms, status)
        share = contribution(facts, knobs, state["last_ms"])
        old = entry["p"]
        entry["p"] = share
        self.store[f"c|{contact_id}"] = entry
        if share == old:
            return set()
        if old is not None:
            _apply(boards, old, contact_id, -1)
        if share is not None:
            _apply(boards, share, contact_id, 1)
        return {s["t"] for s in (old, share) if s is not None}

    def _time_out(self, boards: dict[str, Any], watermark: float) -> set[str]:
        """Waiting and in-progress contacts whose idle timeout the watermark reached are
        incomplete (as the contact fold closes them): no longer waiting nor in progress."""
        limit = watermark * 1000 - self.knobs.idle_timeout_ms
        stale = [
            contact_id
            for board in boards.values()
            for tile in board["tiles"].values()
            for contact_id, last in [
                *((c, w[1]) for c, w in tile["waiting"].items()),
                *tile["talking"].items(),
            ]
            if last <= limit
        ]
        touched: set[str] = set()
        for contact_id in stale:
            entry = self.store.get(f"c|{contact_id}")
            if entry is not None:
                touched |= self._refresh(boards, contact_id, entry, watermark)
        return touched

    def _prune(self, boards: dict[str, Any], watermark: float) -> None:
        """Drop contact states and days the retention passed (stream.contact_retention_days):
        a later event of such a contact is not counted (``too_late``), as in the contact fold."""
        limit = watermark * 1000
        expiries = self._expiries
        while expiries and expiries[0][0] <= limit:
            _, contact_id = heapq.heappop(expiries)
            entry = self.store.get(f"c|{contact_id}")
            if entry is None:
                continue
            expiry = entry["s"]["last_ms"] + self.knobs.retention_ms
            if expiry > limit:
                heapq.heappush(expiries, (expiry, contact_id))
                continue
            if entry["p"] is not None and (entry["p"]["w"] is not None or entry["p"]["talk"]):
                _apply(boards, entry["p"], contact_id, -1)
                entry["p"]["w"], entry["p"]["talk"] = None, False
                _apply(boards, entry["p"], contact_id, 1)
            del self.store[f"c|{contact_id}"]
        if limit > -math.inf:
            for tenant, board in boards.items():
                oldest = self.knobs.day(tenant, round(limit - self.knobs.retention_ms))
                for day in [d for d in board["days"] if d < oldest]:
                    del board["days"][day]

    def _expire_later(self, contact_id: str, last_ms: int) -> None:
        if self.knobs.retention_ms < math.inf:
            heapq.heappush(self._expiries, (last_ms + self.knobs.retention_ms, contact_id))

    def _snapshot(self, boards: dict[str, Any], tenant: str, clock: float) -> Produced:
        board = boards.get(tenant) or {"tiles": {}, "agents": {}, "days": {}}
        tiles = {
            name: {
                "waiting": len(tile["waiting"]),
                "oldest_waiting_ms": min((w[0] for w in tile["waiting"].values()), default=None),
                "in_progress": len(tile["talking"]),
            }
            for name, tile in board["tiles"].items()
        }
        days = {
            day: {name: {c: counts.get(c, 0) for c in COUNTERS} for name, counts in by_tile.items()}
            for day, by_tile in board["days"].items()
        }
        snapshot = {
            "tenant": tenant,
            "source": f"contacts|{self.partition}",
            "clock_ms": round(clock * 1000) if clock > -math.inf else None,
            "tiles": tiles,
            "agents": {state: n for state, n in board["agents"].items() if n},
            "days": days,
        }
        return f"{tenant}|contacts|{self.partition}".encode(), json_bytes(snapshot)


class AlertTally:
    """The churn-risk alerts of one partition of the ``alerts`` topic, counted per tenant and
    reporting day of their trigger event, each ``alert_id`` once (a replay re-emits the same
    id). Stored: ``a|<tenant>`` ``{day: [alert ids]}``, the days the retention keeps."""

    __slots__ = ("knobs", "partition", "store")

    def __init__(
        self, knobs: WallboardKnobs, store: MutableMapping[str, Any], partition: int
    ) -> None:
        self.knobs = knobs
        self.store = store
        self.partition = partition

    def process(self, alerts: Iterable[dict[str, Any]]) -> list[Produced]:
        changed: dict[str, dict[str, list[str]]] = {}
        clock_ms = -math.inf
        for alert in alerts:
            tenant, at_ms = alert.get("tenant"), _alert_ms(alert)
            if not isinstance(tenant, str) or at_ms is None or not alert.get("alert_id"):
                continue  # not an alert of the contract (alert.json): nothing to count
            days = changed.get(tenant) or self.store.get(f"a|{tenant}") or {}
            clock_ms = max(clock_ms, at_ms)
            ids = days.setdefault(self.knobs.day(tenant, at_ms), [])
            if alert["alert_id"] not in ids:
                ids.append(alert["alert_id"])
                changed[tenant] = days
        produced = []
        for tenant, days in sorted(changed.items()):
            oldest = self.knobs.day(tenant, round(clock_ms - self.knobs.retention_ms))
            days = {day: ids for day, ids in days.items() if day >= oldest}
            self.store[f"a|{tenant}"] = days
            snapshot = {
                "tenant": tenant,
                "source": f"alerts|{self.partition}",
                "alerts": {day: len(ids) for day, ids in days.items()},
            }
            key = f"{tenant}|alerts|{self.partition}".encode()
            produced.append((key, json_bytes(snapshot)))
        return produced


def _alert_ms(alert: dict[str, Any]) -> int | None:
    try:
        return _ms(alert.get("trigger_occurred_at"))
    except (TypeError, ValueError):
        return None
