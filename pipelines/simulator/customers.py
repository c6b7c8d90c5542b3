"""Customers and the identifiers their contacts carry.

Each customer belongs to one tenant and owns a customer_id, a phone and an e-mail (unique), and
later a social handle and a chat visitor id. The first time a contact uses one of its own
identifiers it travels with the customer_id (IVR account number, CRM match) or is linked by
``identity.linked`` (chat authentication), so every identifier in the data can be stitched back
to its owner. A few customers also use a shared identifier (a company switchboard, a household
e-mail), always beside their customer_id, and some contacts carry junk values that must never
link anyone.
"""

from __future__ import annotations

import random
from typing import Any

from pipelines.simulator.catalog import EMAIL_DOMAINS, FIRST_NAMES, LAST_NAMES
from pipelines.simulator.ids import RunIds
from pipelines.simulator.model import Customer, Tenant
from schemas.identifiers import normalise

RETURNING_SHARE = 0.12  # arrivals from a customer already known (an unrelated new issue)
COMPANY_SHARE = 0.04  # new voice callers who call from a company switchboard
FAMILY_SHARE = 0.05  # new e-mail writers who use a household address


class CustomerBook:
    __slots__ = ("count", "ids", "rng", "shared", "users")

    def __init__(self, rng: random.Random, ids: RunIds) -> None:
        self.rng = rng
        self.ids = ids
        self.count = 0
        # (tenant, kind, normalised value) of every shared identifier
        self.shared: set[tuple[str, str, str]] = set()
        self.users: dict[tuple[str, str], int] = {}  # (tenant, raw shared identifier) -> members

    def new(self, tenant: Tenant) -> Customer:
        rng = self.rng
        self.count += 1
        idx = self.count
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        # The tenant's n-th customer is the same account (customer id, mobile) in every run of
        # the seed, like a CRM's; the name is drawn per run.
        n = len(tenant.customers) + 1
        ids = self.ids
        number = ids.customer_number(tenant.idx, n)
        customer_id = ids.customer(tenant.short, n)
        customer = Customer(idx, number, customer_id, tenant, (first, last))
        customer.phone = ids.mobile(number)
        customer.email = ids.email(first, last, number, rng.choice(EMAIL_DOMAINS))
        tenant.customers.append(customer)
        return customer

    def pick(self, tenant: Tenant) -> Customer:
        """The customer of a new inbound arrival: mostly someone new, sometimes a known one."""
        if tenant.customers and self.rng.random() < RETURNING_SHARE:
            return self.rng.choice(tenant.customers)
        return self.new(tenant)

    # ---------------------------------------------------------------- identifiers on a contact

    def inbound_object(self, customer: Customer, channel: str) -> dict[str, Any]:
        """The ``customer`` object of an inbound contact.started on ``channel``."""
        rng = self.rng
        cid = customer.customer_id
        first = len(customer.contacts) == 1
        if channel == "voice":
            if first and rng.random() < COMPANY_SHARE:  # calls from the office switchboard
                customer.company = self._join(customer.tenant.companies, "phone", customer)
                return {"customer_id": cid, "phone": customer.company}
            if customer.company is not None and rng.random() < 0.5:
                return {"customer_id": cid, "phone": customer.company}
            if rng.random() < 0.04:  # withheld number: the IVR asked for the account number
                return {"customer_id": cid, "phone": "anonymous"}
            return self._own(customer, "phone", customer.phone, 0.3)
        if channel == "email":
            if first and rng.random() < FAMILY_SHARE:  # writes from the household address
                customer.family = self._join(customer.tenant.families, "email", customer)
                return {"customer_id": cid, "email": customer.family}
            if customer.family is not None and rng.random() < 0.5:
                return {"customer_id": cid, "email": customer.family}
            sent = customer.email
            if rng.random() < 0.3:  # as typed in the mail client: case and spaces vary
                sent = sent.title() + " "
            obj = self._own(customer, "email", sent, 0.2)
            if rng.random() < 0.05:
                obj["phone"] = ""  # blank field of the web form
            return obj
        if channel == "sms":
            phone = customer.phone
            sent = f"+33 {phone[3]} {phone[4:6]} {phone[6:8]} {phone[8:10]} {phone[10:12]}"
            obj = self._own(customer, "phone", sent, 0.1)
            if rng.random() < 0.03:
                obj["email"] = "unknown"
            return obj
        if channel == "social":
            if customer.social is None:
                customer.social = self.ids.social_handle(*customer.name, customer.number)
            obj = self._own(customer, "social_handle", customer.social, 0.1)
            if rng.random() < 0.03:
                obj["phone"] = "0000000000"
            return obj
        # chat: the widget knows its visitor only; authentication links it (chat_link)
        if customer.visitor is None:
            customer.visitor = self.ids.visitor(customer.number)
        return {"chat_visitor_id": customer.visitor}

    def _join(self, pool: list[str], kind: str, customer: Customer) -> str:
        """A shared identifier for a new member: one with a single user first (so that each
        becomes shared as early as possible), else the least used."""
        tenant = customer.tenant.name
        counts = [self.users.get((tenant, raw), 0) for raw in pool]
        pick = counts.index(1) if 1 in counts else counts.index(min(counts))
        raw = pool[pick]
        self.users[(tenant, raw)] = counts[pick] + 1
        self.shared.add((tenant, kind, normalise(kind, raw)))
        return raw

    def chat_link(self, customer: Customer) -> dict[str, str] | None:
        """The identity.linked customer object of a chat authentication, or None when the
        visitor does not log in (only allowed once the visitor id is linked)."""
        if "chat_visitor_id" in customer.linked and self.rng.random() >= 0.4:
            return None
        customer.linked.add("chat_visitor_id")
        linked = {"customer_id": customer.customer_id, "chat_visitor_id": customer.visitor or ""}
        if self.rng.random() < 0.3:
            linked["email"] = customer.email
            customer.linked.add("email")
        return linked

    def crm_lookup(self, customer: Customer) -> dict[str, str]:
        """What an agent's CRM lookup links: the caller's account with its e-mail and mobile."""
        customer.linked.update(("email", "phone"))
        first_digits = "0" + customer.phone[3:]
        mobile = " ".join(first_digits[i : i + 2] for i in range(0, 10, 2))
        return {"customer_id": customer.customer_id, "email": customer.email, "phone": mobile}

    def outbound_object(self, customer: Customer) -> dict[str, str]:
        customer.linked.add("phone")
        return {"customer_id": customer.customer_id, "phone": customer.phone}

    def _own(self, customer: Customer, kind: str, sent: str, with_id: float) -> dict[str, Any]:
        """An own identifier, with the customer_id on its first use (and sometimes later)."""
        if kind not in customer.linked or self.rng.random() < with_id:
            customer.linked.add(kind)
            return {"customer_id": customer.customer_id, kind: sent}
        return {kind: sent}

    def note(self, customer: Customer, obj: dict[str, Any]) -> None:
        """Record the usable identifiers a customer sent (for its customer key)."""
        tenant = customer.tenant.name
        for kind, raw in obj.items():
            value = normalise(kind, raw)
            if value is None:
                continue
            if (tenant, kind, value) in self.shared:
                customer.shared_used.add((kind, value))
            else:
                customer.emitted.add((kind, value))
