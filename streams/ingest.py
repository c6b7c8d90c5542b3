"""One partition of raw events, one batch at a time: validate, canonicalise, route, de-duplicate
and fold contacts. Pure: it returns the messages to produce and keeps its state in the two
stores it is given, so it is tested without a broker and wired by ``streams.agents``.

Per batch, in order: every message becomes a canonical event or a dead letter; a valid event
whose Kafka key breaks the routing rule (``schemas.routing``) is sent back to the raw topic under
the right key instead of being folded on the wrong partition; duplicates are dropped; then the
contact events of the batch are folded and the contacts whose idle timeout passed are closed.

What the customer stage needs (link evidence and contact records, in order) travels as items
packed many to a Kafka message (``identity_messages``): Faust's cost is per message, and one
message per item doubled the messages the worker handles for a sixth of its events.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from schemas.routing import routing_key
from schemas.settings import Settings
from schemas.validation import validate
from streams.canonical import canonicalise, dead_letter
from streams.contacts import ContactFold, ContactRecord, is_contact_event
from streams.dedup import Deduplicator

Produced = tuple[bytes | None, bytes]  # (key, value)


@dataclass(frozen=True, slots=True)
class RawMessage:
    key: bytes | None
    value: bytes
    partition: int
    offset: int


@dataclass(slots=True)
class IngestOutput:
    """What one batch produces, per destination topic."""

    events: list[Produced] = field(default_factory=list)
    dead_letters: list[Produced] = field(default_factory=list)
    rekeyed: list[Produced] = field(default_factory=list)  # back to the raw topic
    contacts: list[Produced] = field(default_factory=list)
    identity: list[IdentityItem] = field(default_factory=list)  # for identity_messages
    duplicates: int = 0


# Well under Kafka's default 1 MiB message limit, whatever the size of the last item added.
IDENTITY_MESSAGE_BYTES = 256 * 1024

IdentityItem = tuple[str, bytes]  # (tenant, encoded item)


def identity_item(kind: str, tenant: str, body: dict[str, Any]) -> IdentityItem:
    """One item for the customer stage: link evidence (``link``) or a contact record."""
    return tenant, orjson.dumps({"kind": kind, "body": body})


def identity_messages(items: list[IdentityItem]) -> list[Produced]:
    """Items packed into messages of the identity topic, keyed by tenant (tenants share no
    identity, so only the order within a tenant matters, and it is kept): each value is a JSON
    array of one tenant's items, of about ``IDENTITY_MESSAGE_BYTES`` at most."""
    by_tenant: dict[str, list[bytes]] = {}
    for tenant, item in items:
        by_tenant.setdefault(tenant, []).append(item)
    messages: list[Produced] = []
    for tenant, encoded in by_tenant.items():
        key = tenant.encode()
        start, size = 0, 0
        for end, item in enumerate(encoded):
            if size and size + len(item) > IDENTITY_MESSAGE_BYTES:
                messages.append((key, b"[" + b",".join(encoded[start:end]) + b"]"))
                start, size = end, 0
            size += len(item) + 1
        messages.append((key, b"[" + b",".join(encoded[start:]) + b"]"))
    return messages


def contact_message(record: ContactRecord) -> Produced:
    return record.facts.contact_id.encode(), orjson.dumps(record.to_dict())


class PartitionIngest:
    """The state and logic of one raw-events partition."""

    __slots__ = ("dedup", "fold", "keep_text", "pii_key", "topic")

    def __init__(
        self,
        settings: Settings,
        topic: str,
        contact_store: MutableMapping[str, Any],
        dedup_store: MutableMapping[str, Any],
    ) -> None:
        self.topic = topic
        self.pii_key = settings.pii_key
        self.keep_text = settings.stream.keep_message_text
        self.dedup = Deduplicator(dedup_store, settings.stream.lateness_seconds)
        self.fold = ContactFold(
            contact_store,
            short_abandon_seconds=settings.kpis.short_abandon_seconds,
            idle_timeout_seconds=settings.stream.idle_timeout_seconds,
            retention_seconds=settings.stream.contact_retention_days * 86400,
        )

    def process(self, messages: list[RawMessage]) -> IngestOutput:
        out = IngestOutput()
        contact_events = []
        for message in messages:
            event = self._canonical(message, out)
            if event is None:
                continue
            key = routing_key(event).encode()
            if message.key != key:
                out.rekeyed.append((key, message.value))
                continue
            if not self.dedup.is_new(key.decode(), event["event_id"], event["ts"]):
                out.duplicates += 1
                continue
            out.events.append((key, orjson.dumps(event)))
            if len(event["customer_ids"]) >= 2:
                out.identity.append(identity_item("link", event["tenant"], event))
            if is_contact_event(event):
                contact_events.append(event)
        self.dedup.expire()
        watermark = self.dedup.clock.watermark
        records = self.fold.apply(contact_events, watermark) + self.fold.sweep(watermark)
        for record in records:
            out.contacts.append(contact_message(record))
            out.identity.append(
                identity_item("contact", record.facts.tenant, record.facts.to_dict())
            )
        return out

    def _canonical(self, message: RawMessage, out: IngestOutput) -> dict[str, Any] | None:
        checked = validate(message.value)
        problems: list[str] = [str(problem) for problem in checked.problems]
        if checked.event is not None:
            try:
                return canonicalise(checked.event, self.pii_key, self.keep_text)
            except ValueError as exc:  # the schema accepted a time Python cannot represent
                problems = [f"occurred_at: {exc}"]
        record = dead_letter(message.value, problems, self.topic, message.partition, message.offset)
        out.dead_letters.append((message.key, orjson.dumps(record)))
        return None
