"""What an erasure does to the stream's state (docs/tenancy.md, Erasure and offboarding).

The stream's tables (``streams.agents``: contact, dedup, identity, journey, customer key and
churn state) are Faust tables whose changelog topics are their durable copy: a worker that
starts replays its changelog past the offsets its local store holds, tombstones included. So an
erasure, run while every stream worker is stopped, changes state by writing to the changelogs:
a tombstone for an entry that belongs to the person (or the tenant), a new value for a shared
entry that mentions them (the per-tenant link journal and recent split contacts of the identity
graph). This module decides, for one entry, which; the caller reads and writes the topics.

A hub of the person's set (a shared number, never erased: it is not theirs alone) becomes a set
of its own, still a hub, so that it links nobody afterwards either.

An entry belongs to the person when a part of its key (split on ``|`` and ``/``: table keys are
``<tenant>|<hash>``, ``c|<tenant>|<customer key>``, ``k|<tenant>|<contact id>``,
``<partition>/<contact id>`` ...) is one of their identifier hashes, customer keys or contact
ids; to a tenant, when a part of its key is the tenant, or its value is a record of the tenant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

_KEY_PARTS = re.compile(r"[|/]")


@dataclass(frozen=True)
class StateErasure:
    """Whose state goes: these values of one tenant, or (``whole_tenant``) all of the tenant's."""

    tenant: str
    forget: frozenset[str] = frozenset()  # identifier hashes, customer keys, contact ids
    whole_tenant: bool = False


DELETE = None  # the new value of an entry that goes: a tombstone


def erase_entry(key: str, value: Any, erasure: StateErasure) -> tuple[bool, Any]:
    """Whether the entry changes, and its new value (``DELETE``: a tombstone)."""
    parts = _KEY_PARTS.split(key)
    if erasure.whole_tenant:
        if erasure.tenant in parts or _record_of(value, erasure.tenant):
            return True, DELETE
        return False, value
    if erasure.tenant not in parts and not _record_of(value, erasure.tenant):
        return False, value  # another tenant's (contact ids carry no tenant: see the value)
    if erasure.forget.intersection(parts):
        return True, DELETE
    if not _mentions(value, erasure.forget):
        return False, value
    if isinstance(value, dict) and "root" in value:
        return True, _hub_left(parts[-1], value, erasure.forget)
    if isinstance(value, dict) and "contacts" in value and "journeys" in value:
        # A customer of the journey book holding one of their contacts (filed under another
        # key): its contacts, journeys, lanes and latest contact stand or go together.
        return True, DELETE
    if isinstance(value, list):
        kept = [item for item in value if not _mentions(item, erasure.forget)]
        return True, kept if kept else DELETE
    if isinstance(value, dict):
        kept = {k: v for k, v in value.items() if not _mentions([k, v], erasure.forget)}
        return True, kept if kept else DELETE
    return True, DELETE


def _hub_left(own: str, node: dict[str, Any], forget: frozenset[str]) -> dict[str, Any]:
    """An identity node of the erased set that stays: a hub (a shared number, not theirs
    alone), now in a set without them; still a hub, so that it links nobody afterwards."""
    if node["root"] in forget:
        return {"root": own, "members": [own], "key": None, "hub": True}
    kept = {**node, "members": [m for m in node.get("members", [own]) if m not in forget]}
    if kept.get("key") in forget:
        kept["key"] = None  # what is left of the set is hubs: no customer key
    return kept


def _record_of(value: Any, tenant: str) -> bool:
    """A contact fold's state (or any record) of the tenant."""
    if not isinstance(value, dict):
        return False
    if value.get("tenant") == tenant:
        return True
    nested = value.get("facts") or value.get("record")
    return isinstance(nested, dict) and nested.get("tenant") == tenant


def _mentions(value: Any, forget: frozenset[str]) -> bool:
    text = orjson.dumps(value).decode()
    return any(f'"{item}"' in text for item in forget)
