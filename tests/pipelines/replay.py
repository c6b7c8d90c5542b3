"""An independent reading of a simulated ``events.jsonl``, for checking the ground truth.

Written from events.md, kpis.md and the ContactFacts semantics only, without the simulator's
code: parse, drop what breaks the contract, de-duplicate by event_id, fold each contact, stitch
customers through customer_id, build journeys and compute the KPIs the tests compare.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from schemas.identifiers import IDENTIFIER_KINDS, hash_identifier, hashed_identifiers, normalise
from schemas.settings import KpiSettings
from schemas.times import format_utc, parse_rfc3339

EVENT_TYPES = {
    "contact.started", "ivr.message_played", "contact.deflected", "contact.queued",
    "contact.answered", "contact.abandoned", "contact.hold_started", "contact.hold_ended",
    "contact.transferred", "contact.ended", "contact.wrapped_up", "message.received",
    "message.sent", "survey.completed", "outbound.attempted", "customer.opted_out",
    "identity.linked", "agent.state_changed",
}  # fmt: skip
INTENT_WORDS = ("cancel", "close my account", "résilier", "unsubscribe", "terminate my contract")
DAY_MS = 86_400_000


def parse(raw: bytes) -> dict[str, Any] | None:
    """The event if the message keeps the envelope rules this reading relies on, else None."""
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(event, dict):
        return None
    for name in ("event_id", "tenant", "occurred_at"):
        if not isinstance(event.get(name), str) or not event[name]:
            return None
    if event.get("event_type") not in EVENT_TYPES or event.get("schema_version") != 1:
        return None
    if isinstance(event["schema_version"], bool):
        return None
    if "attributes" in event and not isinstance(event["attributes"], dict):
        return None
    family = event["event_type"].split(".")[0]
    needs = {"contact": 2, "message": 2, "survey": 2, "outbound": 2, "ivr": 1}.get(family, 0)
    for name in ("contact_id", "channel")[:needs]:
        if not isinstance(event.get(name), str):
            return None
    try:
        event["_ms"] = round(parse_rfc3339(event["occurred_at"]) * 1000)
    except ValueError:
        return None
    return event


def read(lines: Iterable[bytes]) -> tuple[list[dict[str, Any]], list[int]]:
    """(valid events once each, sorted by event time then id; indices of the broken lines)."""
    seen: set[str] = set()
    events, broken = [], []
    for index, raw in enumerate(lines):
        event = parse(raw)
        if event is None:
            broken.append(index)
        elif event["event_id"] not in seen:
            seen.add(event["event_id"])
            events.append(event)
    events.sort(key=lambda e: (e["_ms"], e["event_id"]))
    return events, broken


# ---------------------------------------------------------------- contacts


def fold(events: list[dict[str, Any]], pii_key: str, kpis: KpiSettings) -> dict[str, dict]:
    """ContactFacts-shaped dicts per contact_id, from the contact's events in time order."""
    states: dict[str, dict[str, Any]] = {}
    for e in events:
        kind = e["event_type"]
        if kind in ("outbound.attempted", "identity.linked", "customer.opted_out"):
            continue
        if "contact_id" not in e:
            continue
        s = states.setdefault(e["contact_id"], _new(e))
        a = e.get("attributes") or {}
        t = e["_ms"]
        if kind == "contact.started":
            s["started"], s["direction"] = t, e["direction"]
            s["customer_ids"] = hashed_identifiers(e["customer"], pii_key)
            s["started_reason"] = a.get("reason")
        elif kind == "ivr.message_played":
            s["outage"] = s["outage"] or a.get("kind") == "outage"
        elif kind == "contact.deflected":
            s["cause"] = a["cause"]
        elif kind == "contact.queued":
            s["queued"] = s["queued"] if s["queued"] is not None else t
            if e["queue"] not in s["queues"]:
                s["queues"].append(e["queue"])
        elif kind == "contact.answered":
            s["answered"] = s["answered"] if s["answered"] is not None else t
            if e["agent_id"] not in s["agents"]:
                s["agents"].append(e["agent_id"])
        elif kind == "contact.hold_started":
            s["hold_from"] = t
        elif kind == "contact.hold_ended":
            s["hold"] += t - s.pop("hold_from")
        elif kind == "contact.transferred":
            s["transfers"] += 1
            s["warm"] += a["mode"] == "warm"
            s["cold"] += a["mode"] == "cold"
            s["tier"] = max(s["tier"], a.get("tier", 1))
        elif kind == "contact.abandoned":
            s["abandoned"] = t
        elif kind == "contact.ended":
            s["ended"] = t
        elif kind == "contact.wrapped_up":
            s["wrapped"], s["wrap"] = t, a
        elif kind == "message.received" and a.get("author") == "customer":
            s["intent_text"] = s["intent_text"] or has_intent(a.get("text", ""))
        elif kind == "survey.completed":
            s["survey"] = a
    short_ms = kpis.short_abandon_seconds * 1000
    return {cid: _facts(cid, s, short_ms) for cid, s in states.items()}


def has_intent(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in INTENT_WORDS)


def _new(e: dict[str, Any]) -> dict[str, Any]:
    return {
        "tenant": e["tenant"], "channel": e.get("channel"), "direction": None,
        "customer_ids": [], "started_reason": None, "queues": [], "agents": [],
        "started": None, "queued": None, "answered": None, "ended": None, "wrapped": None,
        "abandoned": None, "hold": 0, "transfers": 0, "warm": 0, "cold": 0, "tier": 1,
        "cause": None, "outage": False, "wrap": None, "survey": {}, "intent_text": False,
    }  # fmt: skip


def _facts(cid: str, s: dict[str, Any], short_ms: float) -> dict[str, Any]:
    wrap = s["wrap"] or {}
    reason = wrap.get("reason", s["started_reason"])
    handled = s["answered"] is not None and s["ended"] is not None
    closed = s["wrapped"] is not None or s["abandoned"] is not None or s["cause"] is not None
    return {
        "contact_id": cid,
        "tenant": s["tenant"],
        "channel": s["channel"],
        "direction": s["direction"],
        "customer_ids": s["customer_ids"],
        "reason": reason,
        "queues": s["queues"],
        "agents": s["agents"],
        "started_at": _time(s["started"]),
        "first_queued_at": _time(s["queued"]),
        "answered_at": _time(s["answered"]),
        "ended_at": _time(s["ended"]),
        "wrapped_up_at": _time(s["wrapped"]),
        "abandoned_at": _time(s["abandoned"]),
        "talk_seconds": (s["ended"] - s["answered"] - s["hold"]) / 1000 if handled else None,
        "hold_seconds": s["hold"] / 1000,
        "acw_seconds": (s["wrapped"] - s["ended"]) / 1000 if s["wrapped"] is not None else None,
        "transfers": s["transfers"],
        "warm_transfers": s["warm"],
        "cold_transfers": s["cold"],
        "max_tier": s["tier"],
        "abandoned": s["abandoned"] is not None,
        "short_abandon": s["abandoned"] is not None and s["abandoned"] - s["queued"] < short_ms,
        "deflected": s["cause"] is not None,
        "deflection_cause": s["cause"],
        "outage_message_heard": s["outage"],
        "disposition": wrap.get("disposition"),
        "resolvable_in_one_contact": wrap.get("resolvable_in_one_contact", True),
        "ticket_id": wrap.get("ticket_id"),
        "nps": s["survey"].get("nps"),
        "csat": s["survey"].get("csat"),
        "ces": s["survey"].get("ces"),
        "cancellation_intent": reason == "cancellation" or s["intent_text"],
        "status": "closed" if closed else "incomplete",
    }


def _time(ms: int | None) -> str | None:
    return None if ms is None else format_utc(ms / 1000)


def ms(text: str | None) -> int | None:
    return None if text is None else round(parse_rfc3339(text) * 1000)


# ---------------------------------------------------------------- customers and journeys


class Customers:
    """Who each contact is from, through the customer_id its identifiers were sent with."""

    def __init__(self, events: list[dict[str, Any]], pii_key: str) -> None:
        self.pii_key = pii_key
        self.owners: dict[tuple[str, str, str], set[str]] = defaultdict(set)
        self.objects: dict[str, dict] = {}  # contact_id -> customer object of contact.started
        for e in events:
            customer = e.get("customer")
            if not customer:
                continue
            if e["event_type"] == "contact.started":
                self.objects[e["contact_id"]] = customer
            owner = customer.get("customer_id")
            if owner:
                for kind, value in self._usable(customer):
                    self.owners[(e["tenant"], kind, value)].add(owner)

    @staticmethod
    def _usable(customer: dict) -> list[tuple[str, str]]:
        out = []
        for kind in IDENTIFIER_KINDS:
            value = normalise(kind, customer.get(kind))
            if value is not None:
                out.append((kind, value))
        return out

    def of_contact(self, tenant: str, contact_id: str) -> str | None:
        customer = self.objects[contact_id]
        if customer.get("customer_id"):
            return customer["customer_id"]
        owners = {
            owner
            for kind, value in self._usable(customer)
            for owner in self.owners.get((tenant, kind, value), ())
            if len(self.owners[(tenant, kind, value)]) == 1
        }
        assert len(owners) <= 1, f"{contact_id} links to {owners}"
        return owners.pop() if owners else None

    def key(self, tenant: str, customer_id: str) -> str:
        """Smallest hash of the identifiers sent with this customer_id and nobody else's."""
        return min(
            hash_identifier(kind, value, self.pii_key)
            for (t, kind, value), owners in self.owners.items()
            if t == tenant and owners == {customer_id}
        )


def offered(c: dict[str, Any]) -> bool:
    if c["direction"] != "inbound" or c["deflected"]:
        return False
    return (c["first_queued_at"] is not None and not c["short_abandon"]) or c[
        "answered_at"
    ] is not None


def journeys(
    contacts: dict[str, dict], customers: Customers, window_days: float, per_channel: bool = False
) -> list[list[dict]]:
    """Runs of offered inbound contacts per (tenant, customer[, channel]), in start order."""
    window_ms = window_days * DAY_MS
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for c in contacts.values():
        if offered(c):
            owner = customers.of_contact(c["tenant"], c["contact_id"])
            groups[(c["tenant"], owner, c["channel"] if per_channel else None)].append(c)
    out = []
    for members in groups.values():
        members.sort(key=lambda c: (ms(c["started_at"]), c["contact_id"]))
        run: list[dict] = []
        for c in members:
            if run and ms(c["started_at"]) - _end(run[-1]) > window_ms:
                out.append(run)
                run = []
            run.append(c)
        out.append(run)
    return out


def _end(c: dict[str, Any]) -> int:
    return ms(c["wrapped_up_at"] or c["ended_at"] or c["abandoned_at"] or c["started_at"])


def resolved_first(run: list[dict]) -> bool:
    first = run[0]
    handled = first["answered_at"] is not None and first["ended_at"] is not None
    return handled and first["disposition"] == "resolved" and len(run) == 1


# ---------------------------------------------------------------- KPIs


def contact_kpis(contacts: list[dict], kpis: KpiSettings) -> dict[str, float | None]:
    """offered, ASA, service level, abandon rate, AHT, transfer rate, surveys, IVR containment."""
    inbound = [c for c in contacts if c["direction"] == "inbound"]
    queued = [c for c in inbound if c["first_queued_at"] is not None]
    answered = [c for c in queued if c["answered_at"] is not None]
    abandoned = [c for c in queued if c["abandoned"] and not c["short_abandon"]]
    handled = [c for c in inbound if c["answered_at"] is not None and c["ended_at"] is not None]
    waits = [(ms(c["answered_at"]) - ms(c["first_queued_at"])) / 1000 for c in answered]
    within = sum(
        w <= kpis.service_level_seconds(c["channel"]) for w, c in zip(waits, answered, strict=True)
    )
    voice = [c for c in inbound if c["channel"] == "voice"]
    nps = [c["nps"] for c in inbound if c["nps"] is not None]
    csat = [c["csat"] for c in inbound if c["csat"] is not None]
    ces = [c["ces"] for c in inbound if c["ces"] is not None]
    handle = [c["talk_seconds"] + c["hold_seconds"] + (c["acw_seconds"] or 0) for c in handled]
    offered_count = len(queued) - sum(c["short_abandon"] for c in queued)
    return {
        "offered.v1": offered_count,
        "asa.v1": _mean(waits),
        "service_level.v1": _share(within, len(answered) + len(abandoned)),
        "abandon_rate.v1": _share(len(abandoned), offered_count),
        "aht.v1": _mean(handle),
        "transfer_rate.v1": _share(sum(c["transfers"] > 0 for c in handled), len(handled)),
        "ivr_containment.v1": _share(sum(c["deflected"] for c in voice), len(voice)),
        "nps.v1": _share(100 * (sum(n >= 9 for n in nps) - sum(n <= 6 for n in nps)), len(nps)),
        "csat.v1": _share(sum(s >= 4 for s in csat), len(csat)),
        "ces.v1": _mean(ces),
    }


def occupancy(events: list[dict[str, Any]], key: Callable[[dict], str] | None = None) -> dict:
    """busy + ACW / (that + available) from agent.state_changed, each state lasting until the
    agent's next change and at most to the end of its UTC day; per ``key`` of the event."""
    by_agent: dict[str, list[dict]] = defaultdict(list)
    for e in events:
        if e["event_type"] == "agent.state_changed":
            by_agent[e["agent_id"]].append(e)
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for changes in by_agent.values():
        for this, after in zip(changes, [*changes[1:], None], strict=True):
            start = this["_ms"]
            day_end = start - start % DAY_MS + DAY_MS
            stop = day_end if after is None else min(after["_ms"], day_end)
            state = this["attributes"]["state"]
            bucket = sums[key(this) if key else "all"]
            if state in ("busy", "after_contact_work"):
                bucket[0] += stop - start
            elif state == "available":
                bucket[1] += stop - start
    return {k: w / (w + a) for k, (w, a) in sums.items()}


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _share(numerator: float, denominator: int) -> float | None:
    return numerator / denominator if denominator else None
