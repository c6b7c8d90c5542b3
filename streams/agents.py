"""The Faust agents: they only move batches between Kafka and the pure stages.

Two stages, two Kafka hops for a contact's events:
- ``ingest`` on the raw topic (N partitions): validation, routing, de-duplication and the
  contact fold, per partition (``streams.ingest``);
- ``customers`` on the identity topic (one partition): identity stitching and journeys
  (``streams.customers``).
"""

from __future__ import annotations

from collections import defaultdict

import faust
from faust.types import EventT, StreamT

from schemas.settings import Settings
from schemas.topics import topic_names
from streams.customers import CustomerStage
from streams.ingest import PartitionIngest, RawMessage
from streams.tables import JsonTable, PartitionView, as_current

_RAW = {"key_serializer": "raw", "value_serializer": "raw"}


def wire(app: faust.App, settings: Settings) -> None:
    names = topic_names(settings)
    partitions = settings.topics.partitions
    raw = app.topic(names.raw_events, **_RAW)
    events = app.topic(names.events, **_RAW)
    dead_letters = app.topic(names.dead_letters, **_RAW)
    contacts = app.topic(names.contacts, **_RAW)
    identity = app.topic(names.identity, partitions=1, **_RAW)
    merges = app.topic(names.identity_merges, **_RAW)
    customers = app.topic(names.customers, **_RAW)
    journeys = app.topic(names.journeys, **_RAW)

    contact_table = _table(app, "contact-state", partitions)
    dedup_table = _table(app, "dedup-state", partitions)
    identity_table = _table(app, "identity-state", 1)
    journey_table = _table(app, "journey-state", 1)
    key_table = _table(app, "customer-key-state", 1)
    batch, within = settings.stream.batch_size, settings.stream.batch_seconds

    def send(topic: faust.TopicT, messages: list[tuple[bytes | None, bytes]]) -> None:
        for key, value in messages:
            topic.send_soon(key=key, value=value)

    @app.agent(raw, name="ingest")
    async def ingest(stream: StreamT) -> None:
        stages: dict[int, PartitionIngest] = {}
        async for batch_events in stream.take_events(batch, within=within):
            _forget_revoked(app, names.raw_events, stages)
            for partition, group in _by_partition(batch_events).items():
                as_current(stream, group[0])  # table state goes to this partition
                stage = stages.get(partition)
                if stage is None:
                    stage = stages[partition] = PartitionIngest(
                        settings,
                        names.raw_events,
                        PartitionView(contact_table, partition),
                        PartitionView(dedup_table, partition),
                    )
                out = stage.process(
                    [
                        RawMessage(e.message.key, e.message.value, partition, e.message.offset)
                        for e in group
                    ]
                )
                send(dead_letters, out.dead_letters)
                send(raw, out.rekeyed)
                send(events, out.events)
                send(contacts, out.contacts)
                send(identity, out.identity)

    @app.agent(identity, name="customers")
    async def stitch(stream: StreamT) -> None:
        stage: CustomerStage | None = None
        async for batch_events in stream.take_events(batch, within=within):
            as_current(stream, batch_events[0])  # one partition: all state lives in it
            if stage is None:
                stage = CustomerStage(settings, identity_table, journey_table, key_table)
            out = stage.process([e.message.value for e in batch_events])
            send(merges, out.merges)
            send(journeys, out.journeys)
            send(customers, out.customers)


def _table(app: faust.App, name: str, partitions: int) -> JsonTable:
    table = app.Table(name, partitions=partitions)
    # Bytes in and out: JsonTable encodes with orjson (Faust's json codec is far slower).
    table.key_serializer = table.value_serializer = "raw"
    return JsonTable(table)


def _by_partition(batch: list[EventT]) -> dict[int, list[EventT]]:
    groups: dict[int, list[EventT]] = defaultdict(list)
    for event in batch:
        groups[event.message.partition].append(event)
    return groups


def _forget_revoked(app: faust.App, topic: str, stages: dict[int, PartitionIngest]) -> None:
    """Drop the in-memory indexes of partitions this worker lost: if one comes back, its stage
    is rebuilt from the recovered table rather than from a stale index."""
    if not stages:
        return
    assigned = {tp.partition for tp in app.consumer.assignment() if tp.topic == topic}
    for partition in [p for p in stages if p not in assigned]:
        del stages[partition]
