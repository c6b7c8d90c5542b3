"""The Faust agents: they only move batches between Kafka and the pure stages.

Two stages, two Kafka hops for a contact's events:
- ``ingest`` on the raw topic (N partitions): validation, routing, de-duplication and the
  contact fold, per partition (``streams.ingest``). It takes the raw topic a whole fetch at a
  time (a batch agent, ``streams.batches``), not through Faust's per-message delivery;
- ``customers`` on the identity topic (one partition): identity stitching, journeys and live
  churn scoring with its alerts (``streams.customers``, ``streams.churn``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from time import perf_counter
from typing import Protocol

import faust
from faust.types import EventT, Message, StreamT

from schemas.settings import Settings
from schemas.topics import topic_names
from streams.batches import Batch, BatchingApp
from streams.business_keys import BusinessKeys
from streams.customers import CustomerStage
from streams.ingest import IdentityItem, PartitionIngest, RawMessage, identity_messages
from streams.metrics import REFRESH_SECONDS, StreamMetrics
from streams.tables import JsonTable, PartitionView, WriteBehind, as_current

_RAW = {"key_serializer": "raw", "value_serializer": "raw"}

# Identity-topic messages per customer-stage batch (or ``stream.batch_size``, when smaller). Each
# carries one tenant's items of one ingest batch (up to ``batch_size`` of them), and the worker
# holds a batch's outputs until they are acknowledged: taking ``batch_size`` messages at once
# made one batch of a whole backlog while catching up (every message of four simulated days,
# 123 MiB of outputs; docs/performance.md, Memory).
CUSTOMER_BATCH_MESSAGES = 16


class Outputs(Protocol):
    """Where the agents send their outputs: ``streams.output.BatchProducer`` in a worker."""

    async def send(self, outputs: dict[str, list[tuple[bytes | None, bytes]]]) -> None: ...

    async def send_to_partitions(
        self, records: dict[tuple[str, int], list[tuple[bytes, bytes | None]]]
    ) -> dict[tuple[str, int], int]: ...

    async def stop(self) -> None: ...


def wire(app: BatchingApp, settings: Settings, outputs: Outputs, metrics: StreamMetrics) -> None:
    names = topic_names(settings)
    partitions = settings.topics.partitions
    raw = app.topic(names.raw_events, **_RAW)
    identity = app.topic(names.identity, partitions=1, **_RAW)

    contact_table = _table(app, "contact-state", partitions)
    dedup_table = _table(app, "dedup-state", partitions)
    identity_table = _table(app, "identity-state", 1)
    journey_table = _table(app, "journey-state", 1)
    key_table = _table(app, "customer-key-state", 1)
    churn_table = _table(app, "churn-state", 1)
    within = settings.stream.batch_seconds
    customer_take = min(settings.stream.batch_size, CUSTOMER_BATCH_MESSAGES)

    @app.on_before_shutdown.connect
    async def stop_outputs(sender: faust.App, **kwargs: object) -> None:
        await outputs.stop()

    stages: dict[int, _Partition] = {}
    business_keys = BusinessKeys()  # shared by the partitions: each value once per worker run

    @app.on_partitions_revoked.connect
    async def forget_revoked(sender: faust.App, revoked: set, **kwargs: object) -> None:
        """Drop the in-memory indexes of partitions this worker lost: when one comes back, its
        stage is rebuilt from the recovered table rather than from a stale index."""
        for tp in revoked:
            metrics.processed.pop(tp, None)
            if tp.topic == names.raw_events:
                stages.pop(tp.partition, None)

    @app.batch_agent(raw)
    async def ingest(batch: Batch) -> None:
        started = perf_counter()
        consumed = duplicates = 0
        reasons: dict[str, int] = defaultdict(int)
        written: list[tuple[EventT, _Partition]] = []
        produced: dict[str, list[tuple[bytes | None, bytes]]] = defaultdict(list)
        identity_items: list[IdentityItem] = []
        for tp, messages in batch.items():
            anchor = _anchor(app, messages[0])
            as_current(anchor)  # table reads go to this partition
            part = stages.get(tp.partition) or _new_partition(tp.partition)
            stages[tp.partition] = part
            out = part.stage.process([RawMessage.of(m) for m in messages])
            produced[names.dead_letters] += out.dead_letters
            produced[names.dead_letters_raw] += out.dead_letters_raw
            produced[names.raw_events] += out.rekeyed
            produced[names.events] += out.events
            produced[names.contacts] += out.contacts
            produced[names.business_keys] += out.business_keys
            identity_items += out.identity
            written.append((anchor, part))
            consumed += len(messages)
            duplicates += out.duplicates
            for reason, count in out.dead_letter_reasons.items():
                reasons[reason] += count
        produced[names.identity] = identity_messages(identity_items)
        # Contact states and their records (the outbox) before the outputs, dedup ids after
        # (PartitionIngest, docs/streams.md: Delivery).
        await _write_state(
            outputs, [(a, (p.contacts, p.outbox)) for a, p in written], before_outputs
        )
        await outputs.send(produced)
        for anchor, part in written:
            as_current(anchor)  # the outbox is read in its own partition
            part.stage.published()
        await _write_state(outputs, [(a, (p.dedup, p.outbox)) for a, p in written], after_outputs)
        for tp, messages in batch.items():
            metrics.processed[tp] = messages[-1].offset + 1
        out_counts = {
            "events": len(produced[names.events]),
            "contacts": len(produced[names.contacts]),
            "identity_items": len(identity_items),
            "rekeyed": len(produced[names.raw_events]),
            "dead_letters": len(produced[names.dead_letters]),
            "business_keys": len(produced[names.business_keys]),
        }
        metrics.batch("ingest", consumed, out_counts, perf_counter() - started)
        metrics.ingested(duplicates, reasons)

    # the tables each of the two writes of an ingest batch sends changelog records to
    before_outputs, after_outputs = (contact_table,), (dedup_table, contact_table)

    def _new_partition(partition: int) -> _Partition:
        contacts = WriteBehind(PartitionView(contact_table, partition))
        dedup = WriteBehind(PartitionView(dedup_table, partition))
        # The outbox shares the contact table (and its changelog partition) under keys of its
        # own namespace, which no partition's view of the contact states ever sees.
        outbox = WriteBehind(PartitionView(contact_table, partition, namespace="outbox:"))
        stage = PartitionIngest(
            settings, names.raw_events, contacts, dedup, business_keys=business_keys, outbox=outbox
        )
        return _Partition(stage, contacts, dedup, outbox)

    # Write order: journeys, keys and churn scores before the identity graph, whose merges
    # they reflect.
    customer_tables = (journey_table, key_table, churn_table, identity_table)
    customer_state = tuple(WriteBehind(table) for table in customer_tables)
    customer_stage: list[CustomerStage] = []  # built lazily: tables are readable once recovered

    @app.agent(identity, name="customers")
    async def stitch(stream: StreamT) -> None:
        async for batch_events in stream.take_events(customer_take, within=within):
            started = perf_counter()
            as_current(batch_events[0])  # one partition: all state lives in it
            if not customer_stage:
                journeys_state, keys_state, churn_state, identity_state = customer_state
                customer_stage.append(
                    CustomerStage(settings, identity_state, journeys_state, keys_state, churn_state)
                )
            out = customer_stage[0].process([e.message.value for e in batch_events])
            await outputs.send(
                {
                    names.identity_merges: out.merges,
                    names.journeys: out.journeys,
                    names.customers: out.customers,
                    names.alerts: out.alerts,
                }
            )
            for store, table in zip(customer_state, customer_tables, strict=True):
                await _write_state(outputs, [(batch_events[0], (store,))], (table,))
            last = batch_events[-1].message
            metrics.processed[last.tp] = last.offset + 1
            out_counts = {
                "identity_merges": len(out.merges),
                "journeys": len(out.journeys),
                "customers": len(out.customers),
                "alerts": len(out.alerts),
            }
            metrics.batch("customers", len(batch_events), out_counts, perf_counter() - started)

    tables = {
        "contact": contact_table,
        "dedup": dedup_table,
        "identity": identity_table,
        "journey": journey_table,
        "customer_key": key_table,
        "churn": churn_table,
    }

    @app.timer(REFRESH_SECONDS)
    async def refresh_metrics() -> None:
        """What the metrics read rather than count: state sizes and consumer lag."""
        for name, table in tables.items():
            metrics.state_keys.labels(name).set(table.estimated_keys())
        consumer = app.consumer
        lags = {}
        for tp in consumer.assignment():
            if tp.topic not in (names.raw_events, names.identity):
                continue  # changelogs, read only to recover the tables
            high = consumer.highwater(tp)
            following = metrics.processed.get(tp)
            if following is None:  # none processed since it was assigned: what it fetched
                following = await consumer.position(tp)
            if high is not None and following is not None:
                lags[(tp.topic, tp.partition)] = max(0, high - following)
        metrics.lag.set(lags)


@dataclass(frozen=True, slots=True)
class _Partition:
    stage: PartitionIngest
    contacts: WriteBehind
    dedup: WriteBehind
    outbox: WriteBehind


async def _write_state(
    outputs: Outputs,
    written: list[tuple[EventT, tuple[WriteBehind, ...]]],
    tables: tuple[JsonTable, ...],
) -> None:
    """Write the held changes of these stores: the changelog records of ``tables`` (the tables
    behind the stores), all sent at once, then, once acknowledged, the local stores
    (streams.tables.JsonTable)."""
    for anchor, stores in written:
        as_current(anchor)  # a flush reads too (a delete looks its key up in this partition)
        for store in stores:
            store.flush()
    records = {}
    for table in tables:
        topic = table.changelog_topic
        records |= {(topic, p): changes for p, changes in table.take_changelog().items()}
    if not records:
        return
    acknowledged = await outputs.send_to_partitions(records)
    anchors = {anchor.message.partition: anchor for anchor, _ in written}
    for table in tables:
        topic = table.changelog_topic
        for (name, partition), offset in acknowledged.items():
            if name == topic:
                as_current(anchors[partition])  # the local store files writes by partition
                table.persisted(partition, offset)


def _table(app: faust.App, name: str, partitions: int) -> JsonTable:
    # Bytes in and out (Faust's "raw" codec, also for the changelog and its recovery): JsonTable
    # encodes with orjson, several times faster than Faust's json codec.
    return JsonTable(app.Table(name, partitions=partitions, key_type=bytes, value_type=bytes))


def _anchor(app: faust.App, message: Message) -> EventT:
    """An event standing for a partition's messages: tables file reads and writes under the
    partition of the current event (``as_current``)."""
    return faust.Event(app, message.key, message.value, message.headers, message)
