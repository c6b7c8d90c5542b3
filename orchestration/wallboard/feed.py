"""The latest snapshot of every tenant and stream partition, read from the compacted
``wallboard`` topic from its beginning and then as the stream publishes.

No consumer group: every wallboard process reads the whole topic (compaction keeps it to one
record per tenant and partition), so a restarted one shows the same board at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from schemas.settings import Settings
from schemas.topics import topic_names

log = logging.getLogger(__name__)


class SnapshotFeed:
    def __init__(self) -> None:
        # tenant -> source ("contacts|3", "alerts|0") -> its latest snapshot
        self.snapshots: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self.version = 0  # grows with every snapshot applied
        self._changed = asyncio.Event()

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        tenant, _, source = key.decode().partition("|")
        if value is None:  # a tombstone: that partition has nothing for the tenant any more
            self.snapshots[tenant].pop(source, None)
        else:
            self.snapshots[tenant][source] = orjson.loads(value)
        self.version += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def tenant_snapshots(self, tenant: str) -> list[dict[str, Any]]:
        return list(self.snapshots.get(tenant, {}).values())

    async def changed(self, timeout: float) -> None:
        """Return when a snapshot arrives, or after ``timeout`` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    async def follow(self, settings: Settings) -> None:
        """Read the topic for ever, reconnecting (with backoff) when the broker goes away."""
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(KafkaError),
            wait=wait_exponential(multiplier=0.5, max=10),
            before_sleep=lambda state: log.warning(
                "wallboard: cannot read the wallboard topic (%s); retrying", state.outcome
            ),
        ):
            with attempt:
                await self._read(settings)

    async def _read(self, settings: Settings) -> None:
        topic = topic_names(settings).wallboard
        consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            client_id="omnicx-wallboard",
        )
        await consumer.start()
        try:
            partitions = await _partitions(consumer, topic)
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            while True:
                fetched = await consumer.getmany(timeout_ms=500, max_records=5000)
                for records in fetched.values():
                    for record in records:
                        self.apply(record.key, record.value)
        finally:
            await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    """The topic's one partition (schemas.topics), once the topic exists (``omnicx up`` and
    ``kafka topics`` create it)."""
    while topic not in await consumer.topics():  # a metadata request: sees a later creation
        log.warning("wallboard: topic %s does not exist yet; waiting", topic)
        await asyncio.sleep(2)
    return [TopicPartition(topic, 0)]
