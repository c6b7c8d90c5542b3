"""Fold each contact's events into its record (``schemas.records.ContactFacts``).

Events of one contact arrive late and shuffled, so the state of a contact is the list of its
events in a compact form, kept sorted by event time, and the record is recomputed from that list
whenever it is needed: simple, and correct whatever the arrival order. A record is only computed
once it can be emitted (the contact closed, timed out, or was emitted before), so the events of
an open contact cost an insertion each.

Stored form of one contact (JSON-serialisable, one value of a Faust table keyed by contact_id)::

    {"tenant": str, "channel": str | None,
     "imported_from": str | None,  # the importer of its first event: its lane (ContactFold)
     "events": [[millis, type_rank, event_id, data | None], ...],  # sorted
     "last_ms": int,            # latest event time: the idle timeout counts from it
     "closed": bool,            # a wrap-up, abandon or deflection was seen
     "version": int,            # of the last emitted record, 0 before the first
     "emitted": dict | None}    # the last emitted facts, to emit only real changes

``type_rank`` is the index of the event type in ``EVENT_ORDER``, which also breaks ties between
events at the same millisecond in lifecycle order. ``data`` holds only the fields the record
needs (see ``_FIELDS``) and the event's customer hashes.

Status: ``closed`` once a closing event is present; ``incomplete`` when the watermark (of the
contact's lane, ``ContactFold``) reaches the last event time + the idle timeout without one;
``open`` otherwise. The first version is emitted at close or timeout, then a new version on every
change of the record (a late survey, a late event re-opening an incomplete contact ...), never
when nothing changed.
"""

from __future__ import annotations

import heapq
import math
from bisect import insort
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from pipelines.importers.framework import IMPORTED_FROM
from schemas.records import ContactFacts
from schemas.times import format_utc

# Lifecycle order, used to sort events that share a millisecond.
EVENT_ORDER = (
    "contact.started",
    "ivr.message_played",
    "contact.deflected",
    "contact.queued",
    "contact.answered",
    "message.received",
    "message.sent",
    "contact.hold_started",
    "contact.hold_ended",
    "contact.transferred",
    "contact.abandoned",
    "contact.ended",
    "contact.wrapped_up",
    "survey.completed",
)
CONTACT_EVENT_TYPES = frozenset(EVENT_ORDER)
_RANK = {event_type: rank for rank, event_type in enumerate(EVENT_ORDER)}
(
    _STARTED,
    _IVR,
    _DEFLECTED,
    _QUEUED,
    _ANSWERED,
    _RECEIVED,
    _SENT,
    _HOLD_STARTED,
    _HOLD_ENDED,
    _TRANSFERRED,
    _ABANDONED,
    _ENDED,
    _WRAPPED_UP,
    _SURVEY,
) = range(len(EVENT_ORDER))
_CLOSING = frozenset({_WRAPPED_UP, _ABANDONED, _DEFLECTED})

# The fields a record needs, per event type: (top-level fields, attribute fields).
_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "contact.started": (("direction",), ("reason",)),
    "ivr.message_played": ((), ("kind",)),
    "contact.deflected": ((), ("cause",)),
    "contact.queued": (("queue",), ()),
    "contact.answered": (("agent_id",), ()),
    "contact.transferred": ((), ("mode", "tier")),
    "contact.wrapped_up": ((), ("disposition", "reason", "ticket_id", "resolvable_in_one_contact")),
    "message.received": ((), ("cancellation_intent",)),
    "message.sent": ((), ("cancellation_intent",)),
    "survey.completed": ((), ("nps", "csat", "ces")),
}
_NO_FIELDS: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
_NO_DATA: dict[str, Any] = {}


def is_contact_event(event: dict[str, Any]) -> bool:
    """Whether a canonical event belongs in a contact record (outbound attempts do not)."""
    return event["event_type"] in CONTACT_EVENT_TYPES and bool(event.get("contact_id"))


def compact_event(event: dict[str, Any]) -> list:
    """The stored form of a canonical contact event: ``[millis, type_rank, event_id, data]``."""
    event_type = event["event_type"]
    top_fields, attribute_fields = _FIELDS.get(event_type, _NO_FIELDS)
    data = {name: event[name] for name in top_fields if event.get(name) is not None}
    attributes = event.get("attributes")
    if attributes:
        for name in attribute_fields:
            value = attributes.get(name)
            if value is not None:
                data[name] = value
    if event.get("customer_ids"):
        data["customer_ids"] = event["customer_ids"]
    return [round(event["ts"] * 1000), _RANK[event_type], event["event_id"], data or None]


@dataclass(slots=True)
class ContactRecord:
    """One emitted version of a contact record."""

    facts: ContactFacts
    version: int
    # The contact's latest event (id, epoch ms): what the customer stage names as the trigger
    # of a churn re-score. Not part of the record's dict.
    last_event: tuple[str, int] | None = field(default=None, compare=False)
    # The importer of the contact's first event (its lane), None for live contacts: the customer
    # stage judges the contact by its lane's clock too (streams.journeys). Not in the dict.
    imported_from: str | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        out = dict(vars(self.facts))
        out["version"] = self.version
        return out

    @classmethod
    def from_dict(
        cls,
        data: dict[str, Any],
        last_event: tuple[str, int] | None = None,
        imported_from: str | None = None,
    ) -> ContactRecord:
        facts = dict(data)
        version = facts.pop("version")
        return cls(ContactFacts(**facts), version, last_event, imported_from)


def new_state(tenant: str, channel: str | None, imported_from: str | None = None) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "imported_from": imported_from,
        "channel": channel,
        "events": [],
        "last_ms": -1,
        "closed": False,
        "version": 0,
        "emitted": None,
    }


def add_event(state: dict[str, Any], event: dict[str, Any]) -> bool:
    """Insert a canonical event into a contact state; False when its id is already there."""
    item = compact_event(event)
    event_id = item[2]
    events = state["events"]
    if any(known[2] == event_id for known in events):
        return False
    insort(events, item)
    if item[0] > state["last_ms"]:
        state["last_ms"] = item[0]
    if item[1] in _CLOSING:
        state["closed"] = True
    if state["channel"] is None:
        state["channel"] = event.get("channel")
    return True


def contact_status(state: dict[str, Any], watermark_ms: float, idle_timeout_ms: int) -> str:
    if state["closed"]:
        return "closed"
    if watermark_ms >= state["last_ms"] + idle_timeout_ms:
        return "incomplete"
    return "open"


def fold_contact(
    contact_id: str, state: dict[str, Any], short_abandon_ms: int, status: str
) -> dict[str, Any]:
    """The contact's facts (a dict with exactly the ContactFacts fields) from its sorted events."""
    direction = started_reason = wrap_reason = None
    started = queued = answered = ended = wrapped = abandoned = None
    queues: list[str] = []
    agents: list[str] = []
    customer_ids: set[str] = set()
    hold_ms = 0
    hold_from = None
    transfers = warm = cold = 0
    max_tier = 1
    deflected = False
    cause = None
    outage = False
    disposition = ticket_id = None
    resolvable = True
    nps = csat = ces = None
    message_intent = False
    for ms, rank, _event_id, data in state["events"]:
        if data is None:
            data = _NO_DATA
        elif "customer_ids" in data:
            customer_ids.update(data["customer_ids"])
        if rank in (_RECEIVED, _SENT):
            message_intent = message_intent or bool(data.get("cancellation_intent"))
        elif rank == _STARTED:
            if started is None:
                started = ms
                direction = data.get("direction")
                started_reason = data.get("reason")
        elif rank == _QUEUED:
            if queued is None:
                queued = ms
            queue = data.get("queue")
            if queue is not None and queue not in queues:
                queues.append(queue)
        elif rank == _ANSWERED:
            if answered is None:
                answered = ms
            agent = data.get("agent_id")
            if agent is not None and agent not in agents:
                agents.append(agent)
        elif rank == _HOLD_STARTED:
            if hold_from is None:
                hold_from = ms
        elif rank == _HOLD_ENDED:
            if hold_from is not None:
                hold_ms += ms - hold_from
                hold_from = None
        elif rank == _TRANSFERRED:
            transfers += 1
            mode = data.get("mode")
            warm += mode == "warm"
            cold += mode == "cold"
            tier = data.get("tier")
            if tier is not None and int(tier) > max_tier:
                max_tier = int(tier)
        elif rank == _ENDED:
            if ended is None:
                ended = ms
        elif rank == _WRAPPED_UP:
            if wrapped is None:
                wrapped = ms
                disposition = data.get("disposition")
                wrap_reason = data.get("reason")
                ticket_id = data.get("ticket_id")
                resolvable = data.get("resolvable_in_one_contact", True)
        elif rank == _ABANDONED:
            if abandoned is None:
                abandoned = ms
        elif rank == _DEFLECTED:
            if not deflected:
                deflected = True
                cause = data.get("cause")
        elif rank == _IVR:
            outage = outage or data.get("kind") == "outage"
        elif rank == _SURVEY:
            # A later survey of the same contact overrides the scores it carries.
            nps = data.get("nps", nps)
            csat = data.get("csat", csat)
            ces = data.get("ces", ces)
    if hold_from is not None and ended is not None and ended > hold_from:
        hold_ms += ended - hold_from  # a hold still open when the contact ended closes there
    reason = wrap_reason if wrap_reason is not None else started_reason
    handled = answered is not None and ended is not None
    return {
        "contact_id": contact_id,
        "tenant": state["tenant"],
        "channel": state["channel"],
        "direction": direction,
        "customer_ids": sorted(customer_ids),
        "reason": reason,
        "queues": queues,
        "agents": agents,
        "started_at": _time(started),
        "first_queued_at": _time(queued),
        "answered_at": _time(answered),
        "ended_at": _time(ended),
        "wrapped_up_at": _time(wrapped),
        "abandoned_at": _time(abandoned),
        "talk_seconds": (ended - answered - hold_ms) / 1000 if handled else None,
        "hold_seconds": hold_ms / 1000,
        "acw_seconds": (wrapped - ended) / 1000
        if wrapped is not None and ended is not None
        else None,
        "transfers": transfers,
        "warm_transfers": warm,
        "cold_transfers": cold,
        "max_tier": max_tier,
        "abandoned": abandoned is not None,
        "short_abandon": abandoned is not None
        and queued is not None
        and abandoned - queued < short_abandon_ms,
        "deflected": deflected,
        "deflection_cause": cause,
        "outage_message_heard": outage,
        "disposition": disposition,
        "resolvable_in_one_contact": resolvable,
        "ticket_id": ticket_id,
        "nps": nps,
        "csat": csat,
        "ces": ces,
        "cancellation_intent": reason == "cancellation" or message_intent,
        "status": status,
    }


def _time(ms: int | None) -> str | None:
    return None if ms is None else format_utc(ms / 1000)


LaneKey = tuple[str, str] | None  # (tenant, importer) of an import's lane, None: the partition's


@dataclass(slots=True)
class _Lane:
    """The timers of the contacts one clock judges: idle-timeout deadlines and retention
    expiries, heaps of (ms, contact_id) with at most one entry per contact (the sets): a contact
    whose time moved is re-pushed when its stale entry comes up."""

    now_ms: float = -math.inf  # an import lane's clock: its latest event folded (epoch ms)
    deadlines: list[tuple[int, str]] = field(default_factory=list)
    scheduled: set[str] = field(default_factory=set)
    expiries: list[tuple[float, str]] = field(default_factory=list)
    expiring: set[str] = field(default_factory=set)


def imported_from(event: dict[str, Any]) -> str | None:
    """The importer that produced an event (``attributes.imported_from``), None for others."""
    attributes = event.get("attributes")
    source = attributes.get(IMPORTED_FROM) if attributes else None
    return source if isinstance(source, str) and source else None


def lane_of(state: dict[str, Any]) -> LaneKey:
    # states stored before lanes existed have no "imported_from": the partition's lane
    source = state.get("imported_from")
    return None if source is None else (state["tenant"], source)


class ContactFold:
    """Contact states in ``store`` (a MutableMapping contact_id -> state, e.g. a Faust table)
    plus the in-memory indexes of idle-timeout deadlines and retention expiries, rebuilt from
    the store on start.

    **Lanes.** A contact is judged by one event clock: the partition's watermark given by the
    caller, or, for a contact its first event says was imported (``attributes.imported_from``),
    the clock of its import lane, one per tenant and importer: the latest event time folded
    into the lane's contacts, minus ``lateness_seconds``. History older than the partition's
    clock (last year's export into a live deployment) then times out, is pruned and is judged
    too late by its own time, so none of it is lost, while the partition's clock keeps judging
    the live contacts (docs/streams.md, Retention). A lane's clock is the latest ``last_ms`` of
    its stored contacts (the contact holding it is never pruned), so ``reload`` restores it.
    """

    __slots__ = (
        "_lanes",
        "idle_timeout_ms",
        "lateness_ms",
        "pruned",
        "retention_ms",
        "short_abandon_ms",
        "store",
        "too_late",
    )

    def __init__(
        self,
        store: MutableMapping[str, dict[str, Any]],
        *,
        short_abandon_seconds: float,
        idle_timeout_seconds: float,
        retention_seconds: float = math.inf,
        lateness_seconds: float = 0.0,
    ) -> None:
        self.store = store
        self.short_abandon_ms = round(short_abandon_seconds * 1000)
        self.idle_timeout_ms = round(idle_timeout_seconds * 1000)
        self.retention_ms = retention_seconds * 1000
        self.lateness_ms = lateness_seconds * 1000
        self._lanes: dict[LaneKey, _Lane] = {}
        self.pruned = 0  # contact states dropped after the retention
        self.too_late = 0  # events of unknown contacts older than the retention: not folded
        self.reload()

    def reload(self) -> None:
        """Rebuild the lanes (their clocks, deadline and expiry indexes) from the store (after a
        restart or a table recovery)."""
        self._lanes.clear()
        for contact_id, state in self.store.items():
            lane = self._lane(lane_of(state))
            lane.now_ms = max(lane.now_ms, state["last_ms"])
            if state["closed"]:
                self._expire_later(lane, contact_id, state)
            else:
                self._schedule(lane, contact_id, state)

    def apply(
        self,
        events: Iterable[dict[str, Any]],
        watermark: float,
        pruned_until: float | None = None,
    ) -> list[ContactRecord]:
        """Add a batch of canonical contact events; the records to emit (one per contact at
        most: a batch that changes a contact twice emits its final state).

        ``pruned_until``: the watermark of the last prune (the one before this batch; default
        ``watermark``). Only a contact whose event is more than the retention behind it can
        have been pruned: judging by the batch's own watermark would drop the older contacts
        of a batch spanning more than the retention (a bulk import of history, docs/importers.md).
        An imported event is judged by its lane's clock before the batch, likewise.
        """
        store = self.store
        touched: dict[str, dict[str, Any]] = {}
        before = watermark if pruned_until is None else min(pruned_until, watermark)
        horizons: dict[LaneKey, float] = {None: before * 1000 - self.retention_ms}
        for event in events:
            contact_id = event["contact_id"]
            state = touched.get(contact_id) or store.get(contact_id)
            if state is None:
                source = imported_from(event)
                key = None if source is None else (event["tenant"], source)
                horizon = horizons.get(key)
                if horizon is None:  # the lane's watermark before the batch
                    horizons[key] = horizon = self._watermark_ms(key, before) - self.retention_ms
                if event["ts"] * 1000 <= horizon:
                    # Its contact may have been pruned: folding the event alone would publish a
                    # record of that one event over the real one. It still went to `events`.
                    self.too_late += 1
                    continue
                state = new_state(event["tenant"], event.get("channel"), source)
            if add_event(state, event):
                touched[contact_id] = state
                key = lane_of(state)
                if key is not None:
                    lane = self._lane(key)
                    lane.now_ms = max(lane.now_ms, state["last_ms"])
        records = []
        for contact_id, state in touched.items():
            key = lane_of(state)
            record = self._refresh(contact_id, state, self._watermark_ms(key, watermark))
            if record is not None:
                records.append(record)
            if state["closed"]:
                self._expire_later(self._lane(key), contact_id, state)
            else:
                self._schedule(self._lane(key), contact_id, state)
            store[contact_id] = state
        return records

    def sweep(self, watermark: float) -> list[ContactRecord]:
        """Time out the open contacts whose deadline their lane's watermark reached: their
        records. Then drop the finished contacts the watermark passed by the retention
        (``prune``).

        ``sweep(math.inf)`` times out every open contact of every lane (the end of a finite
        replay).
        """
        store = self.store
        records = []
        for key, lane in self._lanes.items():
            limit = self._watermark_ms(key, watermark)
            deadlines = lane.deadlines
            while deadlines and deadlines[0][0] <= limit:
                _, contact_id = heapq.heappop(deadlines)
                state = store.get(contact_id)
                if state is None or state["closed"]:
                    lane.scheduled.discard(contact_id)
                    continue
                deadline = state["last_ms"] + self.idle_timeout_ms
                if deadline > limit:  # a later event moved it
                    heapq.heappush(deadlines, (deadline, contact_id))
                    continue
                lane.scheduled.discard(contact_id)
                record = self._refresh(contact_id, state, limit)
                if record is not None:
                    records.append(record)
                    store[contact_id] = state
                self._expire_later(lane, contact_id, state)
        if watermark < math.inf:
            self.prune(watermark)
        return records

    def prune(self, watermark: float) -> None:
        """Delete the state of every finished (closed or timed-out) contact whose last event is
        more than the retention behind its lane's watermark. A later event of such a contact is
        not folded (``too_late``): it would start a record of its own over the real one."""
        store = self.store
        for key, lane in self._lanes.items():
            limit = self._watermark_ms(key, watermark)
            expiries = lane.expiries
            while expiries and expiries[0][0] <= limit:
                _, contact_id = heapq.heappop(expiries)
                lane.expiring.discard(contact_id)
                state = store.get(contact_id)
                if state is None:
                    continue
                if not state["closed"] and contact_id in lane.scheduled:
                    continue  # re-opened by a late event: expires once it times out again
                expiry = state["last_ms"] + self.retention_ms
                if expiry > limit:  # a later event moved it
                    self._expire_later(lane, contact_id, state)
                    continue
                del store[contact_id]
                self.pruned += 1

    def _lane(self, key: LaneKey) -> _Lane:
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = _Lane()
        return lane

    def _watermark_ms(self, key: LaneKey, watermark: float) -> float:
        """A lane's watermark in epoch ms: the partition's (``watermark``) for live contacts;
        an import lane's own clock minus the lateness, or infinity for a final flush."""
        if key is None or watermark == math.inf:
            return watermark * 1000
        lane = self._lanes.get(key)
        return -math.inf if lane is None else lane.now_ms - self.lateness_ms

    def _expire_later(self, lane: _Lane, contact_id: str, state: dict[str, Any]) -> None:
        if contact_id not in lane.expiring and self.retention_ms < math.inf:
            lane.expiring.add(contact_id)
            heapq.heappush(lane.expiries, (state["last_ms"] + self.retention_ms, contact_id))

    def _schedule(self, lane: _Lane, contact_id: str, state: dict[str, Any]) -> None:
        if contact_id not in lane.scheduled:
            lane.scheduled.add(contact_id)
            heapq.heappush(lane.deadlines, (state["last_ms"] + self.idle_timeout_ms, contact_id))

    def _refresh(
        self, contact_id: str, state: dict[str, Any], watermark_ms: float
    ) -> ContactRecord | None:
        status = contact_status(state, watermark_ms, self.idle_timeout_ms)
        if status == "open" and state["emitted"] is None:
            return None
        facts = fold_contact(contact_id, state, self.short_abandon_ms, status)
        if facts == state["emitted"]:
            return None
        state["version"] += 1
        state["emitted"] = facts
        last_ms, _, last_id, _ = state["events"][-1]
        return ContactRecord(
            ContactFacts(**facts),
            state["version"],
            (last_id, last_ms),
            state.get("imported_from"),
        )
