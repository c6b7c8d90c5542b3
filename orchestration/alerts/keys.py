"""The business keys of the alerts: the raw customer_id and account_id values the sources sent,
read from the operators' compacted ``business-keys`` topic into the delivery log.

The topic is keyed ``<tenant>|<identifier hash>`` with values ``{"tenant", "kind", "identifier",
"value"}`` (docs/alerts.md). The stream publishes a key before any alert that names its
identifier, so reading the topic up to its end before delivering a batch of alerts finds them.
"""

from __future__ import annotations

import asyncio
import contextlib
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
    """Reads the business-keys topic (all partitions, no consumer group) into the log, in a
    task of its own. A fetch waits on the broker for new records, and any other request on the
    same connection would queue behind it: so nothing asks the broker meanwhile, and
    ``catch_up`` compares what was read with the high watermarks the fetches return."""

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
        self.read_to: dict[TopicPartition, int] = {}  # next offset to read, per partition
        self.progress = asyncio.Event()  # set after each fetch
        self.task: asyncio.Task | None = None

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
            self.read_to[tp] = await self.consumer.position(tp)
        self.task = asyncio.create_task(self._read())

    def _partition_numbers(self) -> set[int]:
        # aiokafka's consumer knows only the partitions of the topics it subscribed to.
        reader = kafka_consumer(self.settings)
        try:
            return reader.partitions_for_topic(self.topic) or set()
        finally:
            reader.close()

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        await self.consumer.stop()

    async def _read(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=1000)
            upserts: list[tuple[str, str, str]] = []
            deletes: list[tuple[str, str]] = []
            for records in batch.values():
                for record in records:
                    _take(record.key, record.value, upserts, deletes)
            positions = {tp: await self.consumer.position(tp) for tp in batch}
            if positions:
                offsets = {tp.partition: offset for tp, offset in positions.items()}
                self.log.store_business_keys(upserts, deletes, offsets)
                self.read_to.update(positions)
            self.progress.set()

    def _caught_up(self) -> bool:
        for tp in self.partitions:
            end = self.consumer.highwater(tp)
            if end is None or self.read_to[tp] < end:
                return False
        return True

    async def catch_up(self) -> None:
        """Wait until every key published before the last fetch is in the log (at most
        ``request_timeout_seconds``): the stream publishes a key before any alert naming it."""
        if not self.partitions:
            return
        deadline = time.monotonic() + self.wait_seconds
        while not self._caught_up():
            left = deadline - time.monotonic()
            if left <= 0:
                log.warning("business keys: not read to the end in time")
                return
            self.progress.clear()
            with contextlib.suppress(TimeoutError):  # the loop's test says what next
                await asyncio.wait_for(self.progress.wait(), left)


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
