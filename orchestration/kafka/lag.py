"""How far a consumer group is behind the end of its topics, and waiting until it caught up."""

from __future__ import annotations

import time
from collections.abc import Callable

from kafka import TopicPartition
from kafka.errors import KafkaError

from pipelines.kafka_io import admin_client, consumer
from schemas.settings import Settings
from schemas.topics import topic_names


def stage_consumers(settings: Settings, stage: str) -> tuple[str, list[str]]:
    """The consumer group of a stage (``stream``, ``sink`` or ``alerts``, the alert delivery)
    and the topics it reads."""
    from warehouse.tables import LAKE_TABLES

    names = topic_names(settings)
    wallboard_inputs = [names.events, names.alerts]
    if stage == "stream":
        # the wallboard's agents (streams/wallboard_agents.py) read events and alerts
        return settings.stream.app_id, [names.raw_events, names.identity, *wallboard_inputs]
    if stage == "alerts":
        return settings.alerts.group_id, [names.alerts]
    return settings.warehouse.sink_group_id, [t.topic_name(settings) for t in LAKE_TABLES]


def consumer_lag(settings: Settings, group_id: str, topics: list[str]) -> dict[str, int]:
    """Messages not yet committed by ``group_id``, per topic (a never-committed partition counts
    from its beginning)."""
    reader = consumer(settings)
    try:
        partitions = [
            TopicPartition(topic, p) for topic in topics for p in reader.partitions_for_topic(topic)
        ]
        ends = reader.end_offsets(partitions)
        starts = reader.beginning_offsets(partitions)
    finally:
        reader.close()
    committed = _committed_offsets(settings, group_id, partitions)
    lag = dict.fromkeys(topics, 0)
    for tp in partitions:
        position = committed.get(tp)
        done = position.offset if position is not None and position.offset >= 0 else starts[tp]
        lag[tp.topic] += max(ends[tp] - done, 0)
    return lag


def _committed_offsets(settings: Settings, group_id: str, partitions: list[TopicPartition]) -> dict:
    # The group coordinator is not available for a moment after a broker's first start (the
    # offsets topic is being created): that error is retriable, within the request timeout.
    deadline = time.monotonic() + settings.kafka.request_timeout_seconds
    with admin_client(settings) as admin:
        while True:
            try:
                return admin.list_consumer_group_offsets(group_id, partitions=partitions)
            except KafkaError as exc:
                if not exc.retriable or time.monotonic() > deadline:
                    raise
            time.sleep(0.2)


_POLL_SECONDS = 1.0
_CONFIRM_SECONDS = 0.25


def wait_until_caught_up(
    settings: Settings,
    group_id: str,
    topics: list[str],
    timeout_seconds: float,
    on_poll: Callable[[dict[str, int]], None] | None = None,
) -> dict[str, int]:
    """Poll until the group has no lag on ``topics`` twice in a row (a stage may still be
    producing into a later topic between two polls), or the time is up; returns the last lag.
    ``on_poll`` sees the lag of every poll (progress). Polls come every second while the group
    is behind (each opens clients: no need to compete with the stage it waits for), and the
    confirming poll comes a moment after the first quiet one."""
    deadline = time.monotonic() + timeout_seconds
    quiet_polls = 0
    lag = consumer_lag(settings, group_id, topics)
    while time.monotonic() < deadline:
        if on_poll is not None:
            on_poll(lag)
        quiet_polls = quiet_polls + 1 if not any(lag.values()) else 0
        if quiet_polls >= 2:
            break
        time.sleep(_CONFIRM_SECONDS if quiet_polls else _POLL_SECONDS)
        lag = consumer_lag(settings, group_id, topics)
    return lag
