"""The operator-only ``business-keys`` topic (ALERTS.md, docs/alerts.md): the raw
``customer_id`` and ``account_id`` a source sent, by their hashed identifier, so that the
alert delivery can give a CRM the keys it knows while the lake only ever holds hashes.

Compacted and never landed (like ``dead-letters-raw``). Each worker produces a value once per
run: a bounded in-memory set remembers what it already sent (forgetting it all when full only
costs sending some values again, which compaction absorbs).
"""

from __future__ import annotations

from typing import Any

from streams.json_bytes import json_bytes

BUSINESS_KINDS = ("customer_id", "account_id")
SEEN_LIMIT = 200_000

Produced = tuple[bytes | None, bytes]


class BusinessKeys:
    __slots__ = ("limit", "seen")

    def __init__(self, limit: int = SEEN_LIMIT) -> None:
        self.limit = limit
        self.seen: set[tuple[str, str, str]] = set()

    def collect(
        self, tenant: str, customer: dict[str, Any] | None, hashed: list[str]
    ) -> list[Produced]:
        """Records for the business identifiers of one event not sent yet: key
        ``<tenant>|<hashed identifier>``, value ``{"tenant", "kind", "identifier", "value"}``.
        ``customer`` is the event's object as the source sent it, ``hashed`` its canonical
        ``customer_ids`` (junk identifiers have no hash and are not sent)."""
        if not customer:
            return []
        out: list[Produced] = []
        for kind in BUSINESS_KINDS:
            value = customer.get(kind)
            if not isinstance(value, str) or (tenant, kind, value) in self.seen:
                continue
            prefix = kind + ":"
            identifier = next((h for h in hashed if h.startswith(prefix)), None)
            if identifier is None:
                continue
            if len(self.seen) >= self.limit:
                self.seen.clear()
            self.seen.add((tenant, kind, value))
            record = {"tenant": tenant, "kind": kind, "identifier": identifier, "value": value}
            out.append((f"{tenant}|{identifier}".encode(), json_bytes(record)))
        return out
