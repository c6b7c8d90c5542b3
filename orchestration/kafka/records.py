"""Reading a topic's latest record per key, and writing records to given partitions: what an
erasure does to compacted topics and changelogs (orchestration.erasure)."""

from __future__ import annotations

from kafka import TopicPartition

from pipelines.kafka_io import consumer, producer
from schemas.settings import Settings

Latest = dict[tuple[int, bytes], bytes]  # (partition, key) -> the latest value of the key


def read_latest(settings: Settings, topic: str) -> Latest:
    """The latest value of every key of a topic (tombstones remove the key); {} for a topic
    that does not exist."""
    reader = consumer(settings)
    try:
        partitions = reader.partitions_for_topic(topic)
        if not partitions:
            return {}
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        ends = reader.end_offsets(tps)
        reader.assign(tps)
        reader.seek_to_beginning()
        latest: Latest = {}
        remaining = {tp for tp in tps if ends[tp] > 0}
        while remaining:
            for tp, records in reader.poll(timeout_ms=1000).items():
                for record in records:
                    if record.offset >= ends[tp] or record.key is None:
                        continue
                    if record.value is None:
                        latest.pop((tp.partition, record.key), None)
                    else:
                        latest[(tp.partition, record.key)] = record.value
            remaining = {tp for tp in remaining if reader.position(tp) < ends[tp]}
        return latest
    finally:
        reader.close()


def send(settings: Settings, topic: str, changes: dict[tuple[int, bytes], bytes | None]) -> None:
    """Produce each change to its partition, and wait until the broker has them all."""
    if not changes:
        return
    writer = producer(settings)
    try:
        futures = [
            writer.send(topic, key=key, value=value, partition=partition)
            for (partition, key), value in sorted(changes.items())
        ]
        writer.flush()
        for future in futures:
            future.get(timeout=settings.kafka.request_timeout_seconds)
    finally:
        writer.close()
