"""Produce and consume through the real broker; provision topics idempotently."""

from __future__ import annotations

import uuid
from collections import defaultdict

from kafka import TopicPartition
from kafka.admin import NewTopic

from orchestration.kafka.topics import provision_topics
from pipelines.kafka_io import admin_client, consumer, producer
from schemas.settings import Settings, with_overrides
from schemas.topics import project_topics

MESSAGES = 10_000
KEYS = 97


def test_ten_thousand_keyed_messages_come_back_in_order_per_partition(
    kafka_settings: Settings,
) -> None:
    topic = f"roundtrip-{uuid.uuid4().hex[:8]}"
    with admin_client(kafka_settings) as admin:
        admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)])
    sent = producer(kafka_settings, enable_idempotence=True)
    for seq in range(MESSAGES):
        sent.send(topic, key=f"k{seq % KEYS}".encode(), value=str(seq).encode())
    sent.flush()
    sent.close()

    reader = consumer(kafka_settings, consumer_timeout_ms=10_000)
    partitions = [TopicPartition(topic, p) for p in range(4)]
    reader.assign(partitions)
    reader.seek_to_beginning()
    by_partition: dict[int, list[int]] = defaultdict(list)
    partitions_of_key: dict[bytes, set[int]] = defaultdict(set)
    for record in reader:
        by_partition[record.partition].append(int(record.value))
        partitions_of_key[record.key].add(record.partition)
        if sum(map(len, by_partition.values())) == MESSAGES:
            break
    reader.close()

    received = [seq for seqs in by_partition.values() for seq in seqs]
    assert sorted(received) == list(range(MESSAGES))
    for seqs in by_partition.values():
        assert seqs == sorted(seqs)
    assert len(by_partition) == 4
    assert all(len(parts) == 1 for parts in partitions_of_key.values())
    assert len(partitions_of_key) == KEYS


def test_provisioning_twice_changes_nothing_the_second_time(kafka_settings: Settings) -> None:
    settings = with_overrides(kafka_settings, topics={"prefix": f"prov-{uuid.uuid4().hex[:6]}."})
    expected = {spec.name: spec for spec in project_topics(settings)}

    first = provision_topics(settings)
    second = provision_topics(settings)

    assert len(first) == len(expected)
    assert second == []
    with admin_client(settings) as admin:
        described = {
            t["topic"]: len(t["partitions"]) for t in admin.describe_topics(list(expected))
        }
    assert described == {name: spec.partitions for name, spec in expected.items()}


def test_provisioning_aligns_partitions_and_retention(kafka_settings: Settings) -> None:
    settings = with_overrides(kafka_settings, topics={"prefix": f"align-{uuid.uuid4().hex[:6]}."})
    provision_topics(settings)
    changed = with_overrides(settings, topics={"partitions": 6, "retention_hours": 24})

    changes = provision_topics(changed)

    raw = f"{settings.topics.prefix}raw-events"
    assert f"grew {raw} to 6 partitions" in changes
    assert f"set ['retention.ms'] on {raw}" in changes
    assert provision_topics(changed) == []
