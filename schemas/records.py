"""Derived records: what the stream emits and the warehouse stores, and what the simulator's
ground truth states as true.

The simulator writes one ``ContactFacts`` per contact (``ground_truth_contacts.jsonl``) from its
own state; the stream folds events into a ``ContactRecord`` whose ``facts`` must equal them.
Keeping both on one definition is what makes the comparison honest: a field missing on one side
is a test failure, not a silent skip.

Times are RFC 3339 strings in UTC (``2026-01-05T09:00:00.000Z``) or None; durations are float
seconds, named ``*_seconds``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

ContactStatus = Literal["open", "closed", "incomplete"]


@dataclass
class ContactFacts:
    """One contact (a call, chat session, e-mail thread, SMS or social conversation)."""

    contact_id: str
    tenant: str
    channel: str
    direction: str | None = None
    customer_ids: list[str] = field(default_factory=list)  # keyed hashes of its identifiers
    reason: str | None = None
    queues: list[str] = field(default_factory=list)  # in order of queueing, no repeats
    agents: list[str] = field(default_factory=list)  # in order of answering, no repeats
    started_at: str | None = None
    first_queued_at: str | None = None
    answered_at: str | None = None
    ended_at: str | None = None
    wrapped_up_at: str | None = None
    abandoned_at: str | None = None
    talk_seconds: float | None = None  # answered -> ended, minus hold; None if not handled
    hold_seconds: float = 0.0
    acw_seconds: float | None = None  # ended -> wrapped up
    transfers: int = 0
    warm_transfers: int = 0
    cold_transfers: int = 0
    max_tier: int = 1
    abandoned: bool = False
    short_abandon: bool = False  # abandoned < short-abandon threshold after first queueing
    deflected: bool = False
    deflection_cause: str | None = None
    outage_message_heard: bool = False
    disposition: str | None = None
    resolvable_in_one_contact: bool = True
    ticket_id: str | None = None
    nps: int | None = None
    csat: int | None = None
    ces: int | None = None
    cancellation_intent: bool = False
    status: ContactStatus = "open"

    def to_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict, whose deep copy was a twentieth of the stream's time: the
        # lists are this record's own, so callers serialise the dict and never mutate it.
        return dict(vars(self))


@dataclass
class JourneyFacts:
    """A customer's run of offered inbound contacts within the repeat window (kpis.md)."""

    journey_id: str  # the first contact's id: stable while the journey grows
    customer_key: str  # the stitched customer (smallest identifier hash of the merged set)
    tenant: str
    first_contact_id: str
    first_started_at: str
    contact_ids: list[str]
    channels: list[str]  # distinct, in order of first use
    resolved_at_first_contact: bool
    first_contact_resolvable_in_one_contact: bool
    last_disposition: str | None

    def to_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict, whose deep copy was a twentieth of the stream's time: the
        # lists are this record's own, so callers serialise the dict and never mutate it.
        return dict(vars(self))
