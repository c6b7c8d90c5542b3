"""Journeys (kpis.md, Resolution): a customer's run of offered inbound contacts, each starting
within the repeat window W after the previous one ended, across channels after stitching.

``build_journeys`` is the definition, a pure function of one customer's contact records;
``per_channel=True`` builds the single-channel journeys of ``fcr_channel.v1`` with the same code.
``JourneyBook`` keeps the contact records per stitched customer and re-groups a customer whenever
one of its contacts changes or arrives late, or identity stitching changes who the customer is,
and emits what changed: new versions of journeys, and superseded journeys (``superseded: true``)
when a journey stopped existing (it was absorbed into an earlier one, or moved away).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from schemas.records import ContactFacts, JourneyFacts
from schemas.times import parse_rfc3339

ANONYMOUS_PREFIX = "anonymous:"


def joins_journey(contact: ContactFacts) -> bool:
    """Offered inbound contacts only: queued and not a short abandon, or answered; deflected
    (self-service) and outbound contacts join none. An unknown direction counts as inbound."""
    if contact.direction == "outbound" or contact.deflected:
        return False
    offered = contact.first_queued_at is not None and not contact.short_abandon
    return offered or contact.answered_at is not None


def contact_start(contact: ContactFacts) -> str | None:
    """When the contact started; its first queueing or answer when the start event is missing."""
    return contact.started_at or contact.first_queued_at or contact.answered_at


def contact_end(contact: ContactFacts) -> str | None:
    """Its wrap-up, else its end, else its abandon; its start while none is known."""
    return (
        contact.wrapped_up_at or contact.ended_at or contact.abandoned_at or contact_start(contact)
    )


def build_journeys(
    contacts: Iterable[ContactFacts],
    window_seconds: float,
    customer_key: str,
    *,
    per_channel: bool = False,
) -> list[JourneyFacts]:
    """The journeys of one customer's contacts, ordered by their first contact's start.

    A contact starting exactly W after the previous one ended still repeats it. With
    ``per_channel`` each channel is grouped on its own, as a single-channel tool would.
    """
    timed = []
    for contact in contacts:
        start = contact_start(contact)
        if start is not None and joins_journey(contact):
            end = contact_end(contact)
            timed.append((parse_rfc3339(start), contact.contact_id, parse_rfc3339(end), contact))
    timed.sort(key=lambda t: (t[0], t[1]))
    groups: dict[str | None, list[tuple]] = {}
    for item in timed:
        groups.setdefault(item[3].channel if per_channel else None, []).append(item)
    journeys = []
    for group in groups.values():
        run: list[ContactFacts] = []
        previous_end = 0.0
        for start, _, end, contact in group:
            if run and start - previous_end > window_seconds:
                journeys.append(_journey(run, customer_key))
                run = []
            run.append(contact)
            previous_end = end
        journeys.append(_journey(run, customer_key))
    journeys.sort(key=_journey_order)
    return journeys


def _journey_order(journey: JourneyFacts) -> tuple[str, str]:
    # Canonical UTC times sort like the instants they name.
    return journey.first_started_at, journey.journey_id


def _journey(run: list[ContactFacts], customer_key: str) -> JourneyFacts:
    first = run[0]
    handled = first.answered_at is not None and first.ended_at is not None
    return JourneyFacts(
        journey_id=first.contact_id,
        customer_key=customer_key,
        tenant=first.tenant,
        first_contact_id=first.contact_id,
        first_started_at=contact_start(first),
        contact_ids=[c.contact_id for c in run],
        channels=list(dict.fromkeys(c.channel for c in run)),
        resolved_at_first_contact=handled and first.disposition == "resolved" and len(run) == 1,
        first_contact_resolvable_in_one_contact=first.resolvable_in_one_contact,
        last_disposition=run[-1].disposition,
    )


def diff_journeys(
    old: Mapping[str, JourneyFacts], new: Iterable[JourneyFacts]
) -> tuple[list[JourneyFacts], list[JourneyFacts]]:
    """What to emit when ``old`` (journey_id -> journey) is replaced by ``new``:
    (journeys that are new or changed, old journeys that no longer exist)."""
    changed = []
    kept = set()
    for journey in new:
        kept.add(journey.journey_id)
        if old.get(journey.journey_id) != journey:
            changed.append(journey)
    superseded = [j for jid, j in old.items() if jid not in kept]
    return changed, superseded


@dataclass(slots=True)
class JourneyRecord:
    """One emitted version of a journey; a superseded one carries its last facts."""

    facts: JourneyFacts
    version: int
    superseded: bool = False

    def to_dict(self) -> dict[str, Any]:
        out = dict(vars(self.facts))
        out["version"] = self.version
        out["superseded"] = self.superseded
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JourneyRecord:
        facts = dict(data)
        version, superseded = facts.pop("version"), facts.pop("superseded")
        return cls(JourneyFacts(**facts), version, superseded)


CustomerKeyLookup = Callable[[str, list[str]], "str | None"]
FiledHook = Callable[[str, list[tuple[str, list[str]]]], None]


class JourneyBook:
    """Contacts and journeys per stitched customer in one key-value ``store``:

    - ``c|<tenant>|<customer key>`` -> {"contacts": {id: contact facts dict},
      "journeys": {journey_id: journey facts dict}}
    - ``k|<tenant>|<contact id>`` -> the customer key the contact is filed under
    - ``v|<tenant>|<journey id>`` -> the journey's last emitted version (kept after it is
      superseded, so that versions only grow)

    - ``t|clock`` -> the latest contact end filed, in epoch milliseconds: the book's clock;
      ``t|clock|<tenant>|<importer>`` -> the clock of an import lane

    ``customer_key(tenant, customer_ids)`` comes from identity stitching
    (``IdentityGraph.customer_key``); a contact it cannot attribute is its own customer,
    ``anonymous:<contact id>``. All contacts of a tenant must reach the same book (partition the
    contact records by tenant), because a merge can join customers filed anywhere.

    Retention: a customer whose contacts all ended more than ``retention_seconds`` before the
    clock is dropped with its filings and journey versions (``prune``), once no contact can join
    its journeys any more (the retention covers the repeat window and how late a contact record
    can still come). A record of a contact it does not know that ended before that horizon is
    not filed (``too_late``): it would start a one-contact journey over the real one.

    Lanes: the contacts of an import (``lanes`` names each one's importer, as the ingest stage's
    contact lanes do: streams.contacts) are judged by a clock of their own, one per tenant and
    importer, so that last year's history loaded into a deployment whose live contacts moved the
    clock to today still gets its journeys; a customer is judged by the lane of its latest
    contact (stored under the customer's ``lanes``: contact id -> importer, imported ones only).
    """

    __slots__ = (
        "_expiries",
        "_expiring",
        "clocks",
        "customer_key",
        "on_filed",
        "per_channel",
        "pruned",
        "regrouped",
        "retention_ms",
        "store",
        "too_late",
        "window_seconds",
    )

    def __init__(
        self,
        store: MutableMapping[str, Any],
        customer_key: CustomerKeyLookup,
        window_seconds: float,
        *,
        per_channel: bool = False,
        retention_seconds: float = math.inf,
        on_filed: FiledHook | None = None,
    ) -> None:
        """``on_filed(tenant, [(contact id, customer_ids)])``: told of every contact filed or
        re-filed (all the contacts of the customers a change re-groups)."""
        self.store = store
        self.customer_key = customer_key
        self.window_seconds = window_seconds
        self.per_channel = per_channel
        self.on_filed = on_filed
        self.retention_ms = retention_seconds * 1000
        # lane -> the latest contact end filed in it (epoch ms); None: the live lane
        self.clocks: dict[Lane, float] = {None: store.get(_CLOCK, -math.inf)}
        self.pruned = 0  # customers dropped after the retention
        self.too_late = 0  # records of unknown contacts that ended before the horizon
        # (tenant, customer key) of every customer re-grouped since the caller last cleared it:
        # whose churn score may have changed (streams.churn).
        self.regrouped: set[tuple[str, str]] = set()
        # per lane: (expiry_ms, tenant, customer key), with the lane each customer is queued in
        # (a customer whose latest contact changes lane is queued again; the stale entry is
        # skipped when it comes up).
        self._expiries: dict[Lane, list[tuple[float, str, str]]] = {}
        self._expiring: dict[tuple[str, str], Lane] = {}
        if self.retention_ms < math.inf:
            for key, state in store.items():
                if key.startswith("c|"):
                    _, tenant, customer = key.split("|", 2)
                    self._expire_later(tenant, customer, state)
                elif key.startswith(_LANE_CLOCK):
                    tenant, importer = key[len(_LANE_CLOCK) :].split("|", 1)
                    self.clocks[(tenant, importer)] = state

    def apply_contacts(
        self, contacts: Iterable[ContactFacts], lanes: Mapping[str, str] | None = None
    ) -> list[JourneyRecord]:
        """File new versions of contact records and re-group the customers they touch.
        ``lanes``: the importer of each imported contact (by contact id); others are live."""
        lanes = lanes or {}
        by_tenant: dict[str, dict[str, ContactFacts]] = {}
        imported: dict[str, dict[str, str]] = {}  # tenant -> contact id -> importer
        before = dict(self.clocks)  # each lane's horizon is its clock before the batch
        clocks = self.clocks
        for contact in contacts:
            importer = lanes.get(contact.contact_id)
            lane = None if importer is None else (contact.tenant, importer)
            end = _end_ms(contact)
            too_old = end is not None and end <= before.get(lane, -math.inf) - self.retention_ms
            if too_old and f"k|{contact.tenant}|{contact.contact_id}" not in self.store:
                self.too_late += 1
                continue
            if end is not None and end > clocks.get(lane, -math.inf):
                clocks[lane] = end
            by_tenant.setdefault(contact.tenant, {})[contact.contact_id] = contact
            if importer is not None:
                imported.setdefault(contact.tenant, {})[contact.contact_id] = importer
        for lane, clock in clocks.items():
            if clock > before.get(lane, -math.inf):
                self.store[_CLOCK if lane is None else _LANE_CLOCK + "|".join(lane)] = clock
        records = []
        for tenant, updated in by_tenant.items():
            filed_before = (self.store.get(f"k|{tenant}|{cid}") for cid in updated)
            keys = {k for k in filed_before if k is not None}
            records += self._regroup(tenant, keys, updated, imported.get(tenant, {}))
        self.prune()
        return records

    def prune(self) -> None:
        """Drop every customer whose last contact ended ``retention`` or more before the clock
        of its lane: its contacts, their filings and its journeys' versions."""
        store = self.store
        for lane, expiries in self._expiries.items():
            limit = self.clocks.get(lane, -math.inf)
            while expiries and expiries[0][0] <= limit:
                _, tenant, customer = heapq.heappop(expiries)
                if self._expiring.get((tenant, customer), _NOT_QUEUED) != lane:
                    continue  # queued again in another lane since
                del self._expiring[(tenant, customer)]
                state_key = f"c|{tenant}|{customer}"
                state = store.get(state_key)
                if state is None:  # emptied by a merge or a move
                    continue
                if _last_end_ms(state) + self.retention_ms > limit:  # a later contact moved it
                    self._expire_later(tenant, customer, state)
                    continue
                for contact_id in state["contacts"]:
                    filed_under = f"k|{tenant}|{contact_id}"
                    if store.get(filed_under) == customer:
                        del store[filed_under]
                for journey_id in state["journeys"]:
                    store.pop(f"v|{tenant}|{journey_id}", None)
                del store[state_key]
                self.pruned += 1

    def _expire_later(self, tenant: str, customer: str, state: dict[str, Any]) -> None:
        if self.retention_ms == math.inf:
            return
        lane = _customer_lane(tenant, state)
        if self._expiring.get((tenant, customer), _NOT_QUEUED) != lane:
            self._expiring[(tenant, customer)] = lane
            expiry = _last_end_ms(state) + self.retention_ms
            heapq.heappush(self._expiries.setdefault(lane, []), (expiry, tenant, customer))

    def filed_key(self, tenant: str, contact_id: str) -> str | None:
        """The customer key a contact is filed under (None: not filed)."""
        return self.store.get(f"k|{tenant}|{contact_id}")

    def apply_identity(self, tenant: str, affected_keys: Iterable[str]) -> list[JourneyRecord]:
        """Re-group the customers an identity audit record names (``affected_keys``)."""
        return self._regroup(tenant, set(affected_keys), {})

    def _key_of(self, tenant: str, contact: ContactFacts) -> str:
        key = self.customer_key(tenant, contact.customer_ids)
        return key if key is not None else ANONYMOUS_PREFIX + contact.contact_id

    def _regroup(
        self,
        tenant: str,
        keys: set[str],
        updated: dict[str, ContactFacts],
        imported: Mapping[str, str] | None = None,
    ) -> list[JourneyRecord]:
        store = self.store
        contacts = dict(updated)
        lanes = dict(imported or {})  # contact id -> importer, imported contacts only
        filed = {cid: self._key_of(tenant, c) for cid, c in updated.items()}
        pending = keys | set(filed.values())
        loaded: set[str] = set()
        old: dict[str, JourneyFacts] = {}
        # A contact can move to a customer nobody named (identity changed under it): every
        # customer a contact lands in is loaded too, so that rewriting it loses no contact.
        while pending:
            key = pending.pop()
            loaded.add(key)
            state = store.get(f"c|{tenant}|{key}")
            if state is None:
                continue
            old.update((jid, JourneyFacts(**j)) for jid, j in state["journeys"].items())
            for cid, importer in state.get("lanes", {}).items():
                lanes.setdefault(cid, importer)
            for cid, facts in state["contacts"].items():
                if cid not in contacts:
                    contacts[cid] = contact = ContactFacts(**facts)
                    filed[cid] = self._key_of(tenant, contact)
                    if filed[cid] not in loaded:
                        pending.add(filed[cid])
        groups: dict[str, list[ContactFacts]] = {key: [] for key in sorted(loaded)}
        self.regrouped.update((tenant, key) for key in loaded)
        for cid, contact in contacts.items():
            groups[filed[cid]].append(contact)
            filed_under = f"k|{tenant}|{cid}"
            if store.get(filed_under) != filed[cid]:
                store[filed_under] = filed[cid]
        if self.on_filed is not None and contacts:
            self.on_filed(tenant, [(cid, c.customer_ids) for cid, c in contacts.items()])
        new: list[JourneyFacts] = []
        for key, members in groups.items():
            journeys = build_journeys(
                members, self.window_seconds, key, per_channel=self.per_channel
            )
            new += journeys
            state_key = f"c|{tenant}|{key}"
            if members:
                state = {
                    "contacts": {c.contact_id: dict(vars(c)) for c in members},
                    "journeys": {j.journey_id: dict(vars(j)) for j in journeys},
                }
                member_lanes = {
                    c.contact_id: lanes[c.contact_id] for c in members if c.contact_id in lanes
                }
                if member_lanes:
                    state["lanes"] = member_lanes
                store[state_key] = state
                self._expire_later(tenant, key, state)
            elif state_key in store:
                del store[state_key]
        # Emit in a stable order whatever the iteration order of sets and tables.
        new.sort(key=_journey_order)
        old = dict(sorted(old.items(), key=lambda item: _journey_order(item[1])))
        changed, superseded = diff_journeys(old, new)
        return [self._version(tenant, j, True) for j in superseded] + [
            self._version(tenant, j, False) for j in changed
        ]

    def _version(self, tenant: str, journey: JourneyFacts, superseded: bool) -> JourneyRecord:
        version_key = f"v|{tenant}|{journey.journey_id}"
        version = self.store.get(version_key, 0) + 1
        self.store[version_key] = version
        return JourneyRecord(journey, version, superseded)


Lane = tuple[str, str] | None  # (tenant, importer) of an import's lane; None: the live lane

_CLOCK = "t|clock"
_LANE_CLOCK = "t|clock|"
_NOT_QUEUED = object()


def _end_ms(contact: ContactFacts) -> float | None:
    end = contact_end(contact)
    return None if end is None else parse_rfc3339(end) * 1000


def _last_end_ms(state: dict[str, Any]) -> float:
    ends = (_end_ms(ContactFacts(**facts)) for facts in state["contacts"].values())
    return max((end for end in ends if end is not None), default=-math.inf)


def _customer_lane(tenant: str, state: dict[str, Any]) -> Lane:
    """The lane of a customer's latest-ending contact (the live lane on a tie)."""
    lanes = state.get("lanes")
    if not lanes:
        return None
    latest: tuple[float, bool] = (-math.inf, False)
    lane: Lane = None
    for cid, facts in state["contacts"].items():
        end = _end_ms(ContactFacts(**facts))
        rank = (-math.inf if end is None else end, cid not in lanes)
        if rank > latest:
            latest, lane = rank, (None if cid not in lanes else (tenant, lanes[cid]))
    return lane
