"""The simulator's state: what really happened, kept by the engine as it happens.

These are plain ``__slots__`` classes rather than dataclasses because a month of a large centre
holds hundreds of thousands of contacts and the engine touches them on every step; instants
are epoch milliseconds (int) and every field says what the emitted events will show, so the
ground truth is read from here and never from the events.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from pipelines.simulator.clock import ReportingDays

# Engine states of a contact (not part of the facts).
ROUTING, WAITING, HANDLING, DONE = range(4)  # ROUTING: on its way to a queue (IVR, transfer)


class Queue:
    __slots__ = (
        "agents",
        "incoming",
        "line",
        "name",
        "present",
        "priority",
        "skill",
        "staffed",
        "tenant",
        "waiting",
    )

    def __init__(self, tenant: Tenant, skill: str, priority: int) -> None:
        self.tenant = tenant
        self.skill = skill
        self.name = f"{tenant.name}.{skill.replace('_', '-')}"
        self.priority = priority
        self.agents: list[Agent] = []
        self.line: deque[Contact] = deque()  # FIFO; abandoned contacts are skipped lazily
        self.waiting = 0  # contacts really waiting in line
        self.incoming = 0  # contacts on their way in (IVR, transfer): an agent must stay for them
        self.staffed = 0  # agents on shift whose shift has not ended
        self.present = 0  # agents logged in, overtime included


class Tenant:
    __slots__ = (
        "agents",
        "campaigns",
        "companies",
        "customers",
        "days",
        "families",
        "idx",
        "name",
        "outbound",
        "paris_email",
        "queues",
        "short",
        "volumes",
    )

    def __init__(self, idx: int, name: str, time_zone: str = "UTC") -> None:
        self.idx = idx
        self.name = name
        self.short = name.split("-")[0]  # unique among the catalogue's tenants
        # The reporting days its ground truth attributes contacts and agent time to.
        self.days = ReportingDays(time_zone)
        self.queues: dict[str, Queue] = {}
        self.outbound: Queue | None = None  # the dialer's agent pool (no contact queues there)
        self.agents: list[Agent] = []
        self.volumes: list[dict[str, float]] = []  # per day: channel -> expected arrivals
        self.customers: list[Customer] = []
        self.companies: list[str] = []  # switchboard phones shared by colleagues
        self.families: list[str] = []  # e-mail addresses shared by a household
        self.campaigns: list[tuple[str, str, str]] = []  # (name, dialer, reason)
        # This tenant's mail gateway stamps local time (+01:00) on its e-mail contacts.
        self.paris_email = idx == 0


class Agent:
    __slots__ = (
        "break_due",
        "contact",
        "id",
        "idle_since",
        "queues",
        "role",
        "shift_over",
        "since",
        "state",
        "tenant",
    )

    def __init__(self, agent_id: str, tenant: Tenant, role: str, queues: list[Queue]) -> None:
        self.id = agent_id
        self.tenant = tenant
        self.role = role
        self.queues = queues  # in order of preference
        self.state = "offline"
        self.since = 0
        self.idle_since = 0
        self.contact: Contact | None = None
        self.shift_over = True
        self.break_due = 0  # ms of break to take when next free


class Customer:
    __slots__ = (
        "company",
        "contacts",
        "customer_id",
        "email",
        "emitted",
        "family",
        "idx",
        "linked",
        "name",
        "number",
        "opt_outs",
        "phone",
        "planted",
        "shared_used",
        "social",
        "tenant",
        "visitor",
    )

    def __init__(
        self, idx: int, number: int, customer_id: str, tenant: Tenant, name: tuple[str, str]
    ) -> None:
        self.idx = idx  # in order of creation in this run
        self.number = number  # in the seed's population: the same in every run (ids.py)
        self.tenant = tenant
        self.customer_id = customer_id
        self.name = name
        self.phone = ""  # E.164, unique
        self.email = ""  # unique
        self.social: str | None = None  # created on first social contact
        self.visitor: str | None = None  # chat visitor id, created on first chat
        self.company: str | None = None  # shared switchboard phone
        self.family: str | None = None  # shared household e-mail
        self.planted = False  # cancellation intent planted
        self.linked: set[str] = set()  # own identifier kinds already sent with customer_id
        self.emitted: set[tuple[str, str]] = set()  # (kind, normalised) of own identifiers sent
        self.shared_used: set[tuple[str, str]] = set()  # shared identifiers it sent
        self.opt_outs: dict[str, int] = {}  # scope -> first opt-out time
        self.contacts: list[Contact] = []


class Contact:
    __slots__ = (
        "abandoned_at",
        "agents",
        "answered",
        "attempt",
        "ces",
        "channel",
        "cold",
        "csat",
        "customer",
        "customer_obj",
        "deflection",
        "direction",
        "disposition",
        "ended",
        "first_queued",
        "hold_ms",
        "id",
        "incomplete",
        "intent",
        "max_tier",
        "needs_tier2",
        "nps",
        "outage_heard",
        "paris",
        "queue",
        "queues",
        "reason",
        "resolvable",
        "started",
        "started_reason",
        "state",
        "tenant",
        "ticket",
        "topic",
        "transfers",
        "warm",
        "wrapped",
    )

    def __init__(
        self,
        contact_id: str,
        tenant: Tenant,
        channel: str,
        direction: str,
        customer: Customer,
        started: int,
    ) -> None:
        self.id = contact_id
        self.tenant = tenant
        self.channel = channel
        self.direction = direction
        self.customer = customer
        self.customer_obj: dict[str, Any] = {}
        self.paris = channel == "email" and tenant.paris_email
        self.started = started
        self.started_reason: str | None = None
        self.reason: str | None = None
        self.intent = False
        self.queue: Queue | None = None
        self.queues: list[str] = []
        self.agents: list[str] = []
        self.first_queued: int | None = None
        self.answered: int | None = None
        self.ended: int | None = None
        self.wrapped: int | None = None
        self.abandoned_at: int | None = None
        self.hold_ms = 0
        self.transfers = 0
        self.warm = 0
        self.cold = 0
        self.max_tier = 1
        self.needs_tier2 = False
        self.deflection: str | None = None
        self.outage_heard = False
        self.disposition: str | None = None
        self.resolvable = True
        self.ticket: str | None = None
        self.topic: Any = None  # the catalog Reason the customer really calls about
        self.nps: int | None = None
        self.csat: int | None = None
        self.ces: int | None = None
        self.incomplete = False
        self.attempt = 1  # 1 for a first contact about an issue, 2+ for a return
        self.state = ROUTING
