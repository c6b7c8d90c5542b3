"""Ground truth from the engine's own state: contact facts, journeys, customer keys and churn.

Nothing here reads an emitted event. The contact facts follow the semantics of
``schemas.records.ContactFacts`` (the stream must fold the events into exactly these), journeys
and the churn score follow kpis.md; docs/simulator.md states the choices kpis.md leaves open.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from pipelines.simulator.clock import DAY, HOUR, SECOND, format_ms
from pipelines.simulator.model import Contact, Customer, Tenant
from schemas.identifiers import IDENTIFIER_KINDS, hash_identifier, normalise
from schemas.records import ContactFacts, JourneyFacts
from schemas.settings import KpiSettings

CHURN_LOOKBACK_DAYS = 30
CHURN_THRESHOLD = 50
CHURN_WEIGHTS = {
    "nps_detractor": 30,
    "csat_1_2": 25,
    "ces_1_3": 15,
    "unresolved_journey": 25,
    "abandons": 15,
    "escalation_unresolved_48h": 20,
    "cancellation_intent": 40,
    "opted_out": 10,
}


class IdentifierHashes:
    """Keyed hashes of identifiers, computed once per distinct value."""

    __slots__ = ("_cache", "key")

    def __init__(self, key: str) -> None:
        self.key = key
        self._cache: dict[tuple[str, str], str] = {}

    def of(self, kind: str, normalised: str) -> str:
        found = self._cache.get((kind, normalised))
        if found is None:
            found = self._cache[(kind, normalised)] = hash_identifier(kind, normalised, self.key)
        return found

    def of_object(self, customer: dict[str, object]) -> list[str]:
        """As ``schemas.identifiers.hashed_identifiers``: sorted hashes, junk dropped."""
        out = []
        for kind in IDENTIFIER_KINDS:
            value = normalise(kind, customer.get(kind))
            if value is not None:
                out.append(self.of(kind, value))
        return sorted(out)


def contact_facts(c: Contact, hashes: IdentifierHashes, short_abandon_ms: float) -> ContactFacts:
    handled = c.answered is not None and c.ended is not None
    abandoned = c.abandoned_at is not None
    return ContactFacts(
        contact_id=c.id,
        tenant=c.tenant.name,
        channel=c.channel,
        direction=c.direction,
        customer_ids=hashes.of_object(c.customer_obj),
        reason=c.reason,
        queues=list(c.queues),
        agents=list(c.agents),
        started_at=format_ms(c.started),
        first_queued_at=_time(c.first_queued),
        answered_at=_time(c.answered),
        ended_at=_time(c.ended),
        wrapped_up_at=_time(c.wrapped),
        abandoned_at=_time(c.abandoned_at),
        talk_seconds=(c.ended - c.answered - c.hold_ms) / 1000 if handled else None,
        hold_seconds=c.hold_ms / 1000,
        acw_seconds=(c.wrapped - c.ended) / 1000 if c.wrapped is not None else None,
        transfers=c.transfers,
        warm_transfers=c.warm,
        cold_transfers=c.cold,
        max_tier=c.max_tier,
        abandoned=abandoned,
        short_abandon=abandoned and c.abandoned_at - c.first_queued < short_abandon_ms,
        deflected=c.deflection is not None,
        deflection_cause=c.deflection,
        outage_message_heard=c.outage_heard,
        disposition=c.disposition,
        resolvable_in_one_contact=c.resolvable,
        ticket_id=c.ticket,
        nps=c.nps,
        csat=c.csat,
        ces=c.ces,
        cancellation_intent=c.intent or c.reason == "cancellation",
        status="incomplete" if c.incomplete else "closed",
    )


def _time(ms: int | None) -> str | None:
    return None if ms is None else format_ms(ms)


# ---------------------------------------------------------------- journeys


def short_abandon(c: Contact, short_abandon_ms: float) -> bool:
    return c.abandoned_at is not None and c.abandoned_at - c.first_queued < short_abandon_ms


def joins_journey(c: Contact, short_abandon_ms: float) -> bool:
    """Offered inbound contacts: queued and not a short abandon, or answered."""
    if c.direction != "inbound" or c.deflection is not None:
        return False
    offered = c.first_queued is not None and not short_abandon(c, short_abandon_ms)
    return offered or c.answered is not None


def contact_end(c: Contact) -> int:
    for end in (c.wrapped, c.ended, c.abandoned_at):
        if end is not None:
            return end
    return c.started


class Journey(NamedTuple):
    tenant: Tenant
    customer: Customer
    contacts: list[Contact]

    @property
    def first(self) -> Contact:
        return self.contacts[0]

    @property
    def resolved_at_first_contact(self) -> bool:
        first = self.contacts[0]
        handled = first.answered is not None and first.ended is not None
        return handled and first.disposition == "resolved" and len(self.contacts) == 1


def build_journeys(
    customer: Customer, kpis: KpiSettings, per_channel: bool = False
) -> list[Journey]:
    """A customer's journeys: each contact starts within W after the previous one ended."""
    short_ms = kpis.short_abandon_seconds * SECOND
    window = kpis.repeat_window_days * DAY
    offered = sorted(
        (c for c in customer.contacts if joins_journey(c, short_ms)),
        key=lambda c: (c.started, c.id),
    )
    groups: dict[str | None, list[Contact]] = {}
    for c in offered:
        groups.setdefault(c.channel if per_channel else None, []).append(c)
    journeys = []
    for group in groups.values():
        run: list[Contact] = []
        for c in group:
            if run and c.started - contact_end(run[-1]) > window:
                journeys.append(Journey(customer.tenant, customer, run))
                run = []
            run.append(c)
        if run:
            journeys.append(Journey(customer.tenant, customer, run))
    return journeys


def shared_users(customers: Iterator[Customer]) -> dict[tuple[str, str, str], int]:
    """How many customers sent each shared identifier (tenant, kind, value)."""
    users: dict[tuple[str, str, str], int] = {}
    for customer in customers:
        for kind, value in customer.shared_used:
            key = (customer.tenant.name, kind, value)
            users[key] = users.get(key, 0) + 1
    return users


def customer_key(
    customer: Customer, hashes: IdentifierHashes, users: dict[tuple[str, str, str], int]
) -> str:
    """The smallest hash of the customer's own usable identifiers: shared ones only count when
    nobody else sent them (then nothing in the data shows they are shared)."""
    own = [hashes.of(kind, value) for kind, value in customer.emitted]
    tenant = customer.tenant.name
    own += [
        hashes.of(kind, value)
        for kind, value in customer.shared_used
        if users[(tenant, kind, value)] == 1
    ]
    return min(own)


def journey_facts(journey: Journey, key: str) -> JourneyFacts:
    first = journey.first
    return JourneyFacts(
        journey_id=first.id,
        customer_key=key,
        tenant=journey.tenant.name,
        first_contact_id=first.id,
        first_started_at=format_ms(first.started),
        contact_ids=[c.id for c in journey.contacts],
        channels=list(dict.fromkeys(c.channel for c in journey.contacts)),
        resolved_at_first_contact=journey.resolved_at_first_contact,
        first_contact_resolvable_in_one_contact=first.resolvable,
        last_disposition=journey.contacts[-1].disposition,
    )


# ---------------------------------------------------------------- churn risk


def churn_signals(
    customer: Customer, journeys: list[Journey], end: int, short_abandon_ms: float
) -> list[str]:
    """The churn signals (kpis.md) the customer shows in the look-back window before ``end``."""
    since = end - CHURN_LOOKBACK_DAYS * DAY
    recent = [c for c in customer.contacts if c.direction == "inbound" and c.started >= since]
    signals = []
    if any(c.nps is not None and c.nps <= 6 for c in recent):
        signals.append("nps_detractor")
    if any(c.csat is not None and c.csat <= 2 for c in recent):
        signals.append("csat_1_2")
    if any(c.ces is not None and c.ces <= 3 for c in recent):
        signals.append("ces_1_3")
    if any(
        len(j.contacts) >= 3
        and j.contacts[-1].disposition != "resolved"
        and j.first.started >= since
        for j in journeys
    ):
        signals.append("unresolved_journey")
    abandons = [c for c in recent if c.abandoned_at is not None]
    if sum(not short_abandon(c, short_abandon_ms) for c in abandons) >= 2:
        signals.append("abandons")
    if any(_open_escalation(c, customer, end) for c in recent):
        signals.append("escalation_unresolved_48h")
    if any(c.intent or c.reason == "cancellation" for c in recent):
        signals.append("cancellation_intent")
    if any(at >= since for at in customer.opt_outs.values()):
        signals.append("opted_out")
    return signals


def _open_escalation(c: Contact, customer: Customer, end: int) -> bool:
    """An escalated contact with no resolved inbound contact of the customer wrapped up within
    the 48 hours after it, once those 48 hours have passed."""
    if c.disposition != "escalated" or c.wrapped + 48 * HOUR > end:
        return False
    deadline = c.wrapped + 48 * HOUR
    return not any(
        other.direction == "inbound"
        and other.disposition == "resolved"
        and c.wrapped < other.wrapped <= deadline
        for other in customer.contacts
    )


def churn_score(signals: list[str]) -> int:
    return min(100, sum(CHURN_WEIGHTS[s] for s in signals))
