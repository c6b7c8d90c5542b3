"""One partition of raw events, one batch at a time: validate, canonicalise, route, de-duplicate
and fold contacts. Pure: it returns the messages to produce and keeps its state in the two
stores it is given, so it is tested without a broker and wired by ``streams.agents``.

Per batch, in order: every message becomes a canonical event or a dead letter; a valid event
whose Kafka key breaks the routing rule (``schemas.routing``) is sent back to the raw topic under
the right key instead of being folded on the wrong partition; duplicates are dropped; then the
contact events of the batch are folded and the contacts whose idle timeout passed are closed.

What the customer stage needs (link evidence, contact records, and the surveys and opt-outs that
churn scoring needs, in order) travels as items
packed many to a Kafka message (``identity_messages``): Faust's cost is per message, and one
message per item doubled the messages the worker handles for a sixth of its events.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from schemas.routing import routing_key
from schemas.settings import Settings
from schemas.validation import Problem, validate
from streams.business_keys import BusinessKeys
from streams.canonical import canonicalise
from streams.clock import too_far_ahead
from streams.contacts import ContactFold, ContactRecord, is_contact_event
from streams.dead_letters import DEAD_LETTER_ID_HEADER, dead_letter_reason, dead_letter_records
from streams.dedup import Deduplicator
from streams.json_bytes import json_bytes

Produced = tuple[bytes | None, bytes]  # (key, value)
# Kafka record headers as the consumer gives them: pairs (aiokafka) or a mapping.
Headers = Sequence[tuple[str, bytes | str]] | Mapping[str, bytes | str]

# A canonical event must fit in a Kafka message (1 MiB by default) on `events`, and wrapped as
# an identity item; larger ones are dead letters. The raw size bound
# (stream.max_message_bytes) normally stops them first.
MAX_EVENT_BYTES = 900 * 1024


@dataclass(frozen=True, slots=True)
class RawMessage:
    key: bytes | None
    value: bytes | None  # None: a tombstone
    partition: int
    offset: int
    appended_at: float | None = None  # the record's timestamp, epoch seconds (broker append time)
    headers: Headers = ()

    @classmethod
    def of(cls, message: Any) -> RawMessage:
        """From a consumed record (a Faust ``Message``: ``timestamp`` in epoch seconds)."""
        return cls(
            message.key,
            message.value,
            message.partition,
            message.offset,
            message.timestamp,
            message.headers or (),
        )

    @property
    def replay_of(self) -> str | None:
        """The dead-letter id a replay put on this message (``omnicx replay-dead-letters``)."""
        items = self.headers.items() if isinstance(self.headers, Mapping) else self.headers
        for name, value in items:
            if name == DEAD_LETTER_ID_HEADER and value:
                return value.decode("ascii", "replace") if isinstance(value, bytes) else value
        return None


@dataclass(slots=True)
class IngestOutput:
    """What one batch produces, per destination topic."""

    events: list[Produced] = field(default_factory=list)
    dead_letters: list[Produced] = field(default_factory=list)  # redacted, for analysts
    dead_letters_raw: list[Produced] = field(default_factory=list)  # with the bytes, operators
    rekeyed: list[Produced] = field(default_factory=list)  # back to the raw topic
    contacts: list[Produced] = field(default_factory=list)
    business_keys: list[Produced] = field(default_factory=list)  # raw CRM keys, operators only
    identity: list[IdentityItem] = field(default_factory=list)  # for identity_messages
    duplicates: int = 0
    dead_letter_reasons: dict[str, int] = field(default_factory=dict)  # reason -> count


# Well under Kafka's default 1 MiB message limit, whatever the size of the last item added.
IDENTITY_MESSAGE_BYTES = 256 * 1024

IdentityItem = tuple[str, bytes]  # (tenant, encoded item)


def identity_item(
    kind: str,
    tenant: str,
    body: dict[str, Any],
    trigger: tuple[str, int] | None = None,
    lane: str | None = None,
) -> IdentityItem:
    """One item for the customer stage: link evidence (``link``), a contact record
    (``contact``, with ``trigger``: its latest event's id and epoch ms, and for an imported
    contact its ``lane``: the importer, by whose clock the customer stage judges it,
    streams.journeys), a ``survey`` or an ``opt_out`` (the fields churn scoring needs)."""
    item: dict[str, Any] = {"kind": kind, "body": body}
    if trigger is not None:
        item["trigger"] = trigger
    if lane is not None:
        item["lane"] = lane
    return tenant, json_bytes(item)


def churn_item(event: dict[str, Any]) -> IdentityItem | None:
    """The ``survey`` or ``opt_out`` item of a canonical event, None for other events."""
    event_type, tenant = event["event_type"], event["tenant"]
    common = {"event_id": event["event_id"], "tenant": tenant, "ts": event["ts"]}
    if event_type == "survey.completed" and event.get("contact_id"):
        attributes = event.get("attributes") or {}
        scores = {name: attributes.get(name) for name in ("nps", "csat", "ces")}
        return identity_item(
            "survey", tenant, {**common, "contact_id": event["contact_id"], **scores}
        )
    if event_type == "customer.opted_out" and event["customer_ids"]:
        return identity_item("opt_out", tenant, {**common, "customer_ids": event["customer_ids"]})
    return None


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
    return record.facts.contact_id.encode(), json_bytes(record.to_dict())


# The outbox's one key: the contact records of the last batch, until its outputs are acknowledged.
OUTBOX_KEY = "records"


class PartitionIngest:
    """The state and logic of one raw-events partition.

    Crash safety (docs/streams.md, Delivery): a batch's contact states and its ``outbox`` (the
    contact records it publishes) are written before its outputs are produced; its dedup ids
    after they are acknowledged, when ``published`` also empties the outbox. A record is thus
    never published before the state that gave it its version is stored, so a version number
    always names one record. A stage built over an outbox that is not empty (the worker died
    between the two writes) publishes those records again with its first batch: the state that
    holds their events ignores the replayed events, so they would otherwise never go out.
    """

    __slots__ = (
        "bounds",
        "business_keys",
        "dedup",
        "fold",
        "keep_text",
        "outbox",
        "pii_key",
        "topic",
        "unsent",
    )

    def __init__(
        self,
        settings: Settings,
        topic: str,
        contact_store: MutableMapping[str, Any],
        dedup_store: MutableMapping[str, Any],
        business_keys: BusinessKeys | None = None,
        outbox: MutableMapping[str, Any] | None = None,
    ) -> None:
        """``business_keys``: what this worker already sent on ``business-keys`` (one for all
        its partitions). ``outbox``: where the contact records of a batch wait until its
        outputs are acknowledged (a store of its own, written with the contact states)."""
        self.topic = topic
        self.outbox = {} if outbox is None else outbox
        # [record, trigger, lane]; outboxes written before lanes reached the customer stage
        # hold [record, trigger] (live contacts, or the few of a history load then pending).
        self.unsent = [
            ContactRecord.from_dict(entry[0], tuple(entry[1]), *entry[2:])
            for entry in self.outbox.get(OUTBOX_KEY, ())
        ]
        self.business_keys = business_keys or BusinessKeys()
        self.pii_key = settings.pii_key
        self.keep_text = settings.stream.keep_message_text
        self.bounds = settings.stream
        self.dedup = Deduplicator(dedup_store, settings.stream.lateness_seconds)
        self.fold = ContactFold(
            contact_store,
            short_abandon_seconds=settings.kpis.short_abandon_seconds,
            idle_timeout_seconds=settings.stream.idle_timeout_seconds,
            retention_seconds=settings.stream.contact_retention_days * 86400,
            lateness_seconds=settings.stream.lateness_seconds,
        )

    def process(self, messages: list[RawMessage]) -> IngestOutput:
        out = IngestOutput()
        pruned_until = self.dedup.clock.watermark  # the last sweep pruned up to here
        contact_events = []
        for message in messages:
            canonical = self._canonical(message, out)
            if canonical is None:
                continue
            event, encoded, customer = canonical
            key = routing_key(event).encode()
            if message.key != key:
                out.rekeyed.append((key, message.value))
                continue
            if not self.dedup.is_new(key.decode(), event["event_id"], event["ts"]):
                out.duplicates += 1
                continue
            out.events.append((key, encoded))
            tenant, hashed = event["tenant"], event["customer_ids"]
            if customer:
                out.business_keys += self.business_keys.collect(tenant, customer, hashed)
            if len(hashed) >= 2:
                out.identity.append(identity_item("link", tenant, event))
            churn = churn_item(event)
            if churn is not None:
                out.identity.append(churn)
            if is_contact_event(event):
                contact_events.append(event)
        self.dedup.expire()
        watermark = self.dedup.clock.watermark
        records = self.unsent + self.fold.apply(contact_events, watermark, pruned_until)
        records += self.fold.sweep(watermark)
        self.unsent = []
        if records:
            self.outbox[OUTBOX_KEY] = [
                [r.to_dict(), r.last_event, r.imported_from] for r in records
            ]
        for record in records:
            out.contacts.append(contact_message(record))
            facts = record.facts
            out.identity.append(
                identity_item(
                    "contact",
                    facts.tenant,
                    facts.to_dict(),
                    record.last_event,
                    record.imported_from,
                )
            )
        return out

    def published(self) -> None:
        """The last batch's outputs are acknowledged: its records leave the outbox."""
        self.outbox.pop(OUTBOX_KEY, None)

    def _canonical(
        self, message: RawMessage, out: IngestOutput
    ) -> tuple[dict[str, Any], bytes, dict[str, Any] | None] | None:
        """The canonical event, its encoding and the identifiers as sent (``customer``), or
        None once the message is dead-lettered."""
        bounds = self.bounds
        checked = validate(
            message.value, max_bytes=bounds.max_message_bytes, max_depth=bounds.max_nesting_depth
        )
        problems: list[str | Problem] = list(checked.problems)
        if checked.event is not None:
            try:
                event = canonicalise(checked.event, self.pii_key, self.keep_text)
            except ValueError as exc:  # the schema accepted a time Python cannot represent
                problems = [f"occurred_at: {exc}"]
            else:
                problems = self._out_of_bounds(event, message)
                if not problems:
                    encoded = json_bytes(event)
                    if len(encoded) <= MAX_EVENT_BYTES:
                        return event, encoded, checked.event.get("customer")
                    problems = [
                        f"$: the canonical event is {len(encoded)} bytes, over the "
                        f"{MAX_EVENT_BYTES} a Kafka message may hold"
                    ]
        reason = dead_letter_reason(problems)
        out.dead_letter_reasons[reason] = out.dead_letter_reasons.get(reason, 0) + 1
        records = dead_letter_records(
            message.value,
            problems,
            self.topic,
            message.partition,
            message.offset,
            replay_of=message.replay_of,
            max_stored_bytes=bounds.max_message_bytes,
        )
        out.dead_letters.append((message.key, json_bytes(records.analyst)))
        out.dead_letters_raw.append((message.key, json_bytes(records.operator)))
        return None

    def _out_of_bounds(self, event: dict[str, Any], message: RawMessage) -> list[str]:
        """Why a valid event must not reach the partition's clock: dated too far ahead of when
        the broker received it (one such event would stop de-duplication expiry and idle
        timeouts for good, streams.clock)."""
        ahead = self.bounds.max_future_seconds
        if not too_far_ahead(event["ts"], message.appended_at, self.dedup.clock.now, ahead):
            return []
        reference = (
            "when the broker received the message"
            if message.appended_at
            else "the partition's latest event"
        )
        return [
            f"occurred_at: {event['occurred_at']} is more than {ahead} s "
            f"(stream.max_future_seconds) ahead of {reference}"
        ]
