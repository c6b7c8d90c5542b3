"""Produce a batch's output messages in one produce request per topic partition.

Faust sends each message through its own buffer and one ``aiokafka.send`` coroutine per
message, which at tens of microseconds a message was most of the stream's cost (see
docs/streams.md, Cost). The stages already hand over their outputs as lists per topic, so this
producer partitions them like Kafka's default partitioner (murmur2 of the key, the same as
kafka-python and the Java client) and submits one ``BatchBuilder`` per partition, then waits
until every batch is acknowledged: the caller writes its state only after that. Table changelog
records go the same way, to the partitions the caller names (``send_to_partitions``).
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from functools import lru_cache

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

Messages = list[tuple[bytes | None, bytes]]


@lru_cache(maxsize=1 << 16)
def _key_hash(key: bytes) -> int:
    return murmur2(key) & 0x7FFFFFFF


def partition_for(key: bytes | None, value: bytes, partitions: int) -> int:
    """Kafka's default partition of a keyed message; a message without a key (a dead letter
    that had none) goes by a hash of its bytes, so that a replay puts it in the same place."""
    if key is None:
        return zlib.crc32(value) % partitions
    return _key_hash(key) % partitions


class BatchProducer:
    def __init__(self, bootstrap_servers: str, client_id: str) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.client_id = client_id
        self._producer: AIOKafkaProducer | None = None  # made in the worker's event loop
        self._partitions: dict[str, int] = {}

    async def send(self, outputs: dict[str, Messages]) -> None:
        """Send every message, partitioned by key, and return once all are acknowledged."""
        records: dict[tuple[str, int], Messages] = defaultdict(list)
        for topic, messages in outputs.items():
            if messages:
                count = await self._partition_count(topic)
                for key, value in messages:
                    records[topic, partition_for(key, value, count)].append((key, value))
        await self.send_to_partitions(records)

    async def send_to_partitions(
        self, records: dict[tuple[str, int], Messages]
    ) -> dict[tuple[str, int], int]:
        """Send each list to its topic partition; once all are acknowledged, the offset of the
        last record written to each."""
        producer = await self._started()
        delivered = []
        for (topic, partition), messages in records.items():
            batch, count = producer.create_batch(), 0
            for key, value in messages:
                if batch.append(key=key, value=value, timestamp=None) is None:
                    sent = await producer.send_batch(batch, topic, partition=partition)
                    delivered.append((topic, partition, sent, count))
                    batch, count = producer.create_batch(), 0
                    batch.append(key=key, value=value, timestamp=None)
                count += 1
            if count:
                sent = await producer.send_batch(batch, topic, partition=partition)
                delivered.append((topic, partition, sent, count))
        last: dict[tuple[str, int], int] = {}
        for topic, partition, sent, count in delivered:
            metadata = await sent
            end = metadata.offset + count - 1
            last[topic, partition] = max(end, last.get((topic, partition), -1))
        return last

    async def _started(self) -> AIOKafkaProducer:
        if self._producer is None:
            self._producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap_servers,
                client_id=self.client_id,
                acks="all",
                enable_idempotence=True,
                max_batch_size=1024 * 1024,
                max_request_size=4 * 1024 * 1024,
            )
            await self._producer.start()
        return self._producer

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def _partition_count(self, topic: str) -> int:
        count = self._partitions.get(topic)
        if count is None:
            producer = await self._started()
            count = self._partitions[topic] = len(await producer.partitions_for(topic))
        return count
