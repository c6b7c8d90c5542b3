"""Whole fetches of the raw topic, below Faust's per-message delivery.

Faust hands every fetched record to its agents one at a time: a ``Message``, four asyncio tasks
to race its delivery against a rebalance (``Service.wait_first``), a queue put, an ``Event``, the
stream's bookkeeping. That costs about 85 µs a message on this machine: at 10,000 events/s it is
the whole budget before any work (measured; docs/streams.md, Cost). The ingest stage and the
wallboard's work on batches anyway, so for their topics this consumer skips that path and hands
each fetch over whole to a *batch agent*, while everything else stays Faust's: the consumer group and its assignor
(so the tables stay co-partitioned with the raw topic), table recovery, and offset commits,
which still go through Faust's ``ack`` bookkeeping.

Rebalances keep Faust's guarantees, by Faust's own rules:
- Records fetched while the flow is stopped are dropped, and Faust seeks back to the committed
  offsets, so the partition's next owner fetches them again.
- The messages of a fetch being processed are tracked as Faust tracks a message being
  processed, so a revocation waits (``Consumer.wait_empty``) until they are acknowledged before
  it commits and another worker takes the partition over.
- There is no queue between the fetch and the handler for a rebalance to leave stale records in:
  the handler runs in the fetch loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from time import monotonic
from typing import Any

import faust
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP, Message

Batch = dict[TP, list[Message]]  # one fetch's messages, per partition, in offset order
BatchHandler = Callable[[Batch], Awaitable[None]]


def undelivered(records: list[Any], read_offset: int | None) -> tuple[list[Any], list[range]]:
    """The records of one partition's fetch that are not behind ``read_offset``, and the offsets
    skipped before or between them, with Faust's own delivery rules.

    Faust's read offset is the last offset delivered, or, right after a seek, the offset sought
    to (the next one to read): so a record *at* it is delivered and only records before it,
    fetched again after a seek back, are dropped. Skipped offsets (transaction markers,
    compacted records) never arrive to be acknowledged, so they are recorded as gaps that
    commits may pass."""
    fresh, gaps = [], []
    last = read_offset
    for record in records:
        offset = record.offset
        if last is not None and offset < last:
            continue
        if last is not None and offset > last + 1:
            gaps.append(range(last + 1, offset))
        fresh.append(record)
        last = offset
    return fresh, gaps


class BatchConsumer(aiokafka_driver.Consumer):
    """Faust's aiokafka consumer, except that each fetch's records of the app's batch topic go
    straight to its batch agent, whole, instead of to agents message by message."""

    app: BatchingApp

    async def _wait_next_records(self, timeout: float) -> tuple[Any, Any]:
        records, active_partitions = await super()._wait_next_records(timeout)
        handlers = self.app.batch_handlers
        if records and handlers:
            fetched: dict[str, dict[TP, list[Any]]] = {}
            for tp, rs in records.items():
                if tp.topic in handlers:
                    fetched.setdefault(tp.topic, {})[tp] = rs
            if fetched:
                records = {tp: rs for tp, rs in records.items() if tp.topic not in handlers}
                # Records that arrive while the flow is stopped (a rebalance) are dropped, as
                # Faust drops its own: seeing the flow stopped, it seeks back to the committed
                # offsets (Consumer.getmany).
                for topic, batch in fetched.items():
                    if self.flow_active:
                        await self._deliver(batch, handlers[topic])
        return records, active_partitions

    async def _deliver(self, fetched: dict[TP, list[Any]], handler: BatchHandler) -> None:
        assigned = self.assignment()
        batch = {}
        for tp, records in fetched.items():
            if tp in assigned and (messages := await self._track(tp, records)):
                batch[tp] = messages
        if not batch:
            return
        await handler(batch)
        ack = self.ack
        for messages in batch.values():
            for message in messages:
                ack(message)

    async def _track(self, tp: TP, records: list[Any]) -> list[Message]:
        """The records to deliver, as messages tracked until acknowledged: a revocation waits
        for them (Consumer.wait_empty)."""
        fresh, gaps = undelivered(records, self._read_offset[tp])
        for gap in gaps:
            await self._add_gap(tp, gap.start, gap.stop - 1)
        messages = [self._to_message(tp, record) for record in fresh]
        for message in messages:
            self.track_message(message)
        if fresh:
            self._read_offset[tp] = fresh[-1].offset
            # What a stream records when it starts on an event: without it, Faust's liveness
            # check (verify_event_path) reports a partition with a backlog as never processed.
            self.app.monitor.stream_inbound_time[tp] = monotonic()
        return messages


class BatchTransport(aiokafka_driver.Transport):
    Consumer = BatchConsumer


class BatchingApp(faust.App):
    """A Faust app whose *batch agents* are handlers given whole fetches of their topics."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batch_handlers: dict[str, BatchHandler] = {}  # topic name -> its batch agent

    def _new_transport(self) -> BatchTransport:
        return BatchTransport(self.conf.broker_consumer, self)

    def batch_agent(self, topic: faust.TopicT) -> Callable[[BatchHandler], BatchHandler]:
        """Like ``app.agent``, but the handler is called with each fetch of ``topic``, its
        messages per partition, which are acknowledged when it returns. It runs in Faust's
        fetch loop, which fetches again (from records the consumer thread has prefetched
        meanwhile) once every batch agent given a part of the fetch returned: so the batch
        agents of one worker run one after the other. An exception stops the worker."""
        (name,) = topic.topics
        if name in self.batch_handlers:
            raise ValueError(f"{name} already has a batch agent")
        self.topics.add(topic)  # subscribed and acknowledged like an agent's topic

        def register(handler: BatchHandler) -> BatchHandler:
            self.batch_handlers[name] = handler
            return handler

        return register
