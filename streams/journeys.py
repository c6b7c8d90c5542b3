"""Journeys (kpis.md, Resolution): a customer's run of offered inbound contacts, each starting
within the repeat window W after the previous one ended, across channels after stitching.

``build_journeys`` is the definition, a pure function of one customer's contact records;
``per_channel=True`` builds the single-channel journeys of ``fcr_channel.v1`` with the same code.
``JourneyBook`` keeps the contact records per stitched customer and re-groups a customer whenever
one of its contacts changes or arrives late, or identity stitching changes who the customer is,
and emits what changed: new versions of journeys, and superseded journeys (``superseded: true``)
when a journey stopped existing (it was absorbed into an earlier one, or moved away). It rebuilds
only the journeys a change can reach, with ``build_journeys``, so that filing a contact does not
cost more as the customer's history grows.
"""

from __future__ import annotations

import bisect
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
      "journeys": {journey_id: journey facts dict}} (+ "lanes", below; + "latest": [end ms,
      contact id] of its latest-ending contact, with a retention: what judges its expiry, kept
      rather than found again from every contact; a state written without it still loads)
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
                last_end, _ = _last_end_and_lane(tenant, state)
                if last_end + self.retention_ms > limit:  # a later contact moved it
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
        last_end, lane = _last_end_and_lane(tenant, state)
        if self._expiring.get((tenant, customer), _NOT_QUEUED) != lane:
            self._expiring[(tenant, customer)] = lane
            expiry = last_end + self.retention_ms
            heapq.heappush(self._expiries.setdefault(lane, []), (expiry, tenant, customer))

    def filed_key(self, tenant: str, contact_id: str) -> str | None:
        """The customer key a contact is filed under (None: not filed)."""
        return self.store.get(f"k|{tenant}|{contact_id}")

    def apply_identity(self, tenant: str, affected_keys: Iterable[str]) -> list[JourneyRecord]:
        """Re-group the customers an identity audit record names (``affected_keys``)."""
        return self._regroup(tenant, set(affected_keys), {})

    def _key_lookup(self, tenant: str) -> Callable[[str, list[str]], str]:
        """The customer key of a contact (id, identifiers), for one re-grouping: the identity
        graph does not change meanwhile, and a customer's contacts mostly share identifiers."""
        keys: dict[tuple[str, ...], str | None] = {}

        def key_of(contact_id: str, identifiers: list[str]) -> str:
            found = keys.get(tuple(identifiers), _UNKNOWN)
            if found is _UNKNOWN:
                found = keys[tuple(identifiers)] = self.customer_key(tenant, identifiers)
            return found if found is not None else ANONYMOUS_PREFIX + contact_id

        return key_of

    def _regroup(
        self,
        tenant: str,
        keys: set[str],
        updated: dict[str, ContactFacts],
        imported: Mapping[str, str] | None = None,
    ) -> list[JourneyRecord]:
        """File ``updated`` and re-derive the customer of every contact of the customers
        involved; rebuild only the journeys that a contact leaving or arriving can change."""
        store = self.store
        key_of = self._key_lookup(tenant)
        lanes = dict(imported or {})  # contact id -> importer, imported contacts only
        filed = {cid: key_of(cid, c.customer_ids) for cid, c in updated.items()}
        stored: dict[str, dict[str, Any]] = {}  # contact id -> facts, of the contacts not updated
        home: dict[str, str] = {}  # contact id -> the customer whose state holds it
        states: dict[str, dict[str, Any]] = {}
        leaving: dict[str, set[str]] = {}  # customer -> its contacts that move or are replaced
        pending = keys | set(filed.values())
        loaded: set[str] = set()
        # A contact can move to a customer nobody named (identity changed under it): every
        # customer a contact lands in is loaded too, so that rewriting it loses no contact.
        while pending:
            key = pending.pop()
            loaded.add(key)
            state = store.get(f"c|{tenant}|{key}")
            if state is None:
                continue
            states[key] = state
            for cid, importer in state.get("lanes", {}).items():
                lanes.setdefault(cid, importer)
            for cid, facts in state["contacts"].items():
                if cid in filed:  # a new version of it arrived (or, never, filed twice)
                    if cid in updated and cid not in home:
                        home[cid] = key
                        leaving.setdefault(key, set()).add(cid)
                    continue
                home[cid] = key
                stored[cid] = facts
                filed[cid] = lands = key_of(cid, facts["customer_ids"])
                if lands != key:
                    leaving.setdefault(key, set()).add(cid)
                    if lands not in loaded:
                        pending.add(lands)
        self.regrouped.update((tenant, key) for key in loaded)
        members: dict[str, list[str]] = {key: [] for key in sorted(loaded)}
        arriving: dict[str, list[ContactFacts]] = {}
        for cid, key in filed.items():  # the new versions first, then the stored contacts
            members[key].append(cid)
            if cid in stored and home[cid] == key:
                continue  # stays, filed where it is
            arriving.setdefault(key, []).append(
                updated[cid] if cid in updated else ContactFacts(**stored[cid])
            )
            filed_under = f"k|{tenant}|{cid}"
            if store.get(filed_under) != key:
                store[filed_under] = key
        if self.on_filed is not None and filed:
            identifiers = [(cid, c.customer_ids) for cid, c in updated.items()]
            identifiers += [(cid, facts["customer_ids"]) for cid, facts in stored.items()]
            self.on_filed(tenant, identifiers)
        old: dict[str, JourneyFacts] = {}
        new: list[JourneyFacts] = []
        for key, cids in members.items():
            if key not in leaving and key not in arriving:
                continue  # nothing left it or came: its state stays as it is
            state = states.get(key) or {"contacts": {}, "journeys": {}}
            state_key = f"c|{tenant}|{key}"
            if not cids:
                old.update((jid, JourneyFacts(**j)) for jid, j in state["journeys"].items())
                del store[state_key]
                continue
            journeys = self._rejourney(
                key, state, leaving.get(key, set()), arriving.get(key, []), old, new
            )
            contacts = {
                cid: dict(vars(updated[cid])) if cid in updated else stored[cid] for cid in cids
            }
            rewritten: dict[str, Any] = {"contacts": contacts, "journeys": journeys}
            if lanes:
                member_lanes = {cid: lanes[cid] for cid in cids if cid in lanes}
                if member_lanes:
                    rewritten["lanes"] = member_lanes
            if self.retention_ms < math.inf:
                rewritten["latest"] = _latest_after(
                    state, rewritten, leaving.get(key, set()), arriving.get(key, [])
                )
            store[state_key] = rewritten
            self._expire_later(tenant, key, rewritten)
        # Emit in a stable order whatever the iteration order of sets and tables.
        new.sort(key=_journey_order)
        old = dict(sorted(old.items(), key=lambda item: _journey_order(item[1])))
        changed, superseded = diff_journeys(old, new)
        return [self._version(tenant, j, True) for j in superseded] + [
            self._version(tenant, j, False) for j in changed
        ]

    def _rejourney(
        self,
        key: str,
        state: dict[str, Any],
        leaving: set[str],
        arriving: list[ContactFacts],
        old: dict[str, JourneyFacts],
        new: list[JourneyFacts],
    ) -> dict[str, dict[str, Any]]:
        """The customer's journeys (stored form, in order) once ``leaving`` (stored contacts)
        are gone and ``arriving`` (contacts or new versions) are in; the journeys it rebuilt,
        before and after, are added to ``old`` and ``new``.

        ``build_journeys`` cuts a customer's contacts, in start order, wherever one starts more
        than W after the previous one ended: whether two neighbours share a journey depends on
        them alone. A contact that leaves can change its own journey and join it to the next
        one (its predecessor may end later than it did); the cut before its journey stays, as
        the contact after the cut starts no earlier than before. A contact that arrives can
        change the journey it lands in (by start) and join it to the next one. The other
        journeys keep their neighbours and their cuts, and each run of adjacent journeys to
        rebuild is rebuilt with ``build_journeys`` from its own contacts. Journeys are found by
        their first contact's start and id compared as strings: stored times are canonical,
        so strings sort like instants (schemas.times).
        """
        held: dict[str, dict[str, Any]] = state["contacts"]
        journeys: dict[str, dict[str, Any]] = state["journeys"]
        groups: dict[str | None, list[dict[str, Any]]] = {}  # in start order, as stored
        for journey in journeys.values():
            groups.setdefault(journey["channels"][0] if self.per_channel else None, []).append(
                journey
            )
        firsts: dict[str | None, list[tuple[str, str]]] = {}

        def position(contact: ContactFacts) -> tuple[str | None, int] | None:
            """The contact's group, and the index of the last journey starting before it."""
            start = contact_start(contact)
            if start is None or not joins_journey(contact):
                return None
            group = contact.channel if self.per_channel else None
            if group not in firsts:
                firsts[group] = [
                    (j["first_started_at"], j["journey_id"]) for j in groups.get(group, ())
                ]
            return group, bisect.bisect_right(firsts[group], (start, contact.contact_id)) - 1

        rebuild: dict[str | None, set[int]] = {}
        for cid in leaving:
            found = position(ContactFacts(**held[cid]))
            if found is None:
                continue  # in no journey
            group, index = found
            group_journeys = groups.get(group, [])
            if index >= 0 and cid in group_journeys[index]["contact_ids"]:
                rebuild.setdefault(group, set()).update((index, index + 1))
            else:  # not where its start says (never in a state this book wrote): all of them
                rebuild.setdefault(group, set()).update(range(len(group_journeys)))
        landing: list[tuple[str | None, int, ContactFacts]] = []
        for contact in arriving:
            found = position(contact)
            if found is not None:
                group, index = found
                rebuild.setdefault(group, set()).update((index, index + 1))
                landing.append((group, index, contact))
        kept = dict(journeys)
        rebuilt: list[JourneyFacts] = []
        for group, indexes in rebuild.items():
            group_journeys = groups.get(group, [])
            run_of: dict[int, int] = {}  # journey index -> the index its run starts at
            runs: dict[int, list[ContactFacts]] = {}
            for index in sorted(i for i in indexes if 0 <= i < len(group_journeys)):
                run_of[index] = run = run_of.get(index - 1, index)
                journey = group_journeys[index]
                del kept[journey["journey_id"]]
                old[journey["journey_id"]] = JourneyFacts(**journey)
                runs.setdefault(run, []).extend(
                    ContactFacts(**held[cid])
                    for cid in journey["contact_ids"]
                    if cid not in leaving
                )
            for landed_group, index, contact in landing:
                if landed_group == group:  # in the run of the journey it lands in or before
                    run = run_of[max(index, 0)] if group_journeys else -1
                    runs.setdefault(run, []).append(contact)
            for contacts in runs.values():
                rebuilt += build_journeys(
                    contacts, self.window_seconds, key, per_channel=self.per_channel
                )
        new += rebuilt
        result = [*kept.values(), *(dict(vars(j)) for j in rebuilt)]
        result.sort(key=lambda j: (j["first_started_at"], j["journey_id"]))
        return {j["journey_id"]: j for j in result}

    def _version(self, tenant: str, journey: JourneyFacts, superseded: bool) -> JourneyRecord:
        version_key = f"v|{tenant}|{journey.journey_id}"
        version = self.store.get(version_key, 0) + 1
        self.store[version_key] = version
        return JourneyRecord(journey, version, superseded)


Lane = tuple[str, str] | None  # (tenant, importer) of an import's lane; None: the live lane

_CLOCK = "t|clock"
_LANE_CLOCK = "t|clock|"
_NOT_QUEUED = object()
_UNKNOWN = object()


def _end_ms(contact: ContactFacts) -> float | None:
    end = contact_end(contact)
    return None if end is None else parse_rfc3339(end) * 1000


def _find_latest(contacts: dict[str, dict[str, Any]], lanes: Mapping[str, str]) -> list:
    """[end ms, id] of the latest-ending of these contacts (stored facts), a live one before an
    imported one on a tie, else the first; [None, None] when there are none."""
    best: tuple[float, bool] = (-math.inf, False)
    latest: list = [None, None]
    for cid, facts in contacts.items():
        end = _end_ms(ContactFacts(**facts))
        rank = (-math.inf if end is None else end, cid not in lanes)
        if rank > best:
            best, latest = rank, [end, cid]
    return latest


def _latest_after(
    before: dict[str, Any],
    after: dict[str, Any],
    leaving: set[str],
    arriving: list[ContactFacts],
) -> list:
    """The customer's ``latest`` contact in its state ``after`` the change: the one it had
    unless that one left, or a contact that arrived ends later (equal ranks: the first in the
    state's order wins, so they are looked for again)."""
    lanes = after.get("lanes") or {}
    latest = before.get("latest")
    if latest is None or latest[1] in leaving:
        return _find_latest(after["contacts"], lanes)
    end, cid = latest
    best = (
        (-math.inf, False) if cid is None else (-math.inf if end is None else end, cid not in lanes)
    )
    for contact in arriving:
        end = _end_ms(contact)
        rank = (-math.inf if end is None else end, contact.contact_id not in lanes)
        if rank == best:
            return _find_latest(after["contacts"], lanes)
        if rank > best:
            best, latest = rank, [end, contact.contact_id]
    return latest


def _last_end_and_lane(tenant: str, state: dict[str, Any]) -> tuple[float, Lane]:
    """When the customer's last contact ended (epoch ms), and the lane of its latest-ending
    contact, which judges it (the live lane on a tie). A state written before ``latest`` was
    kept (or whose ``latest`` an erasure dropped) has it found from its contacts."""
    lanes = state.get("lanes") or {}
    end, cid = state.get("latest") or _find_latest(state["contacts"], lanes)
    return (-math.inf if end is None else end), (None if cid not in lanes else (tenant, lanes[cid]))
