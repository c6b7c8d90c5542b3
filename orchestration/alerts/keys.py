"""The business keys of the alerts: the raw customer_id and account_id values the sources sent,
read from the operators' compacted ``business-keys`` topic into the delivery log.

The topic is keyed ``<tenant>|<identifier hash>`` with values ``{"tenant", "kind", "identifier",
"value"}`` (docs/alerts.md). The stream publishes a key before any alert that names its
identifier, so reading the topic up to its end before delivering a batch of alerts finds them.
"""

from __future__ import annotations

import asyncio
import logging
import time

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from orchestration.alerts.log import DeliveryLog
from orchestration.alerts.record import BUSINESS_KEY_KINDS
from pipelines.kafka_io import consumer as kafka_consumer
from schemas.settings import Settings
from schemas.topics import topic_names

log = logging.getLogger(__name__)


class BusinessKeys:
    """Reads the business-keys topic (all partitions, no consumer group) into the log."""

    def __init__(self, settings: Settings, delivery_log: DeliveryLog) -> None:
        self.settings = settings
        self.topic = topic_names(settings).business_keys
        self.log = delivery_log
        self.wait_seconds = settings.alerts.request_timeout_seconds
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka.bootstrap,
            enable_auto_commit=False,
            client_id="omnicx-alerts-business-keys",
        )
        self.partitions: list[TopicPartition] = []

    async def start(self) -> None:
        await self.consumer.start()
        numbers = await asyncio.to_thread(self._partition_numbers)
        self.partitions = [TopicPartition(self.topic, p) for p in sorted(numbers)]
        if not self.partitions:
            log.warning("no topic %s: alerts go out without business keys", self.topic)
            return
        self.consumer.assign(self.partitions)
        stored = self.log.business_key_offsets()
        for tp in self.partitions:
            if tp.partition in stored:
                self.consumer.seek(tp, stored[tp.partition])
            else:
                await self.consumer.seek_to_beginning(tp)

    def _partition_numbers(self) -> set[int]:
        # aiokafka's consumer knows only the partitions of the topics it subscribed to.
        reader = kafka_consumer(self.settings)
        try:
            return reader.partitions_for_topic(self.topic) or set()
        finally:
            reader.close()

    async def stop(self) -> None:
        await self.consumer.stop()

    async def catch_up(self) -> None:
        """Read the topic up to its current end (at most ``request_timeout_seconds``)."""
        if not self.partitions:
            return
        ends = await self.consumer.end_offsets(self.partitions)
        deadline = time.monotonic() + self.wait_seconds
        behind = await self._behind(ends)
        while behind and time.monotonic() < deadline:
            batch = await self.consumer.getmany(*behind, timeout_ms=200)
            upserts, deletes, offsets = [], [], {}
            for tp, records in batch.items():
                for record in records:
                    _take(record.key, record.value, upserts, deletes)
                    offsets[tp.partition] = record.offset + 1
            if offsets:
                self.log.store_business_keys(upserts, deletes, offsets)
            behind = await self._behind(ends)
        if behind:
            log.warning("business keys: %s not read to the end in time", behind)

    async def _behind(self, ends: dict[TopicPartition, int]) -> list[TopicPartition]:
        return [tp for tp in self.partitions if await self.consumer.position(tp) < ends[tp]]


def _take(
    key: bytes | None,
    value: bytes | None,
    upserts: list[tuple[str, str, str]],
    deletes: list[tuple[str, str]],
) -> None:
    if value is None:  # a tombstone: the identifier's key is forgotten
        tenant, _, identifier = (key or b"").decode(errors="replace").partition("|")
        deletes.append((tenant, identifier))
        return
    try:
        record = orjson.loads(value)
        if record["kind"] in BUSINESS_KEY_KINDS:
            upserts.append((record["tenant"], record["identifier"], str(record["value"])))
    except (orjson.JSONDecodeError, KeyError, TypeError):
        log.warning("business keys: a record that is not a business key was skipped")
