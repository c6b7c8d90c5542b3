"""Create the project's topics, or bring existing ones in line with the settings, idempotently."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic
from kafka.errors import for_code

from pipelines.kafka_io import admin_client
from schemas.settings import Settings
from schemas.topics import TopicSpec, project_topics

log = logging.getLogger(__name__)

# The controller acknowledges a config change once it is committed; the broker that answers
# describe requests applies it from the metadata log a moment later. Provisioning returns only
# when the change is visible, so the next call (or the next process) sees topics as configured.
_APPLY_TIMEOUT_SECONDS = 30.0
_APPLY_POLL_SECONDS = 0.1


def provision_topics(settings: Settings) -> list[str]:
    """Make every project topic exist as configured; returns what changed (empty: nothing)."""
    specs = project_topics(settings)
    changes: list[str] = []
    with admin_client(settings) as admin:
        existing = set(admin.list_topics())
        missing = [spec for spec in specs if spec.name not in existing]
        if missing:
            admin.create_topics(
                [_creation(spec, settings) for spec in missing],
                timeout_ms=int(settings.kafka.request_timeout_seconds * 1000),
            )
            changes += [f"created {s.name} ({s.partitions} partitions)" for s in missing]
            # The controller answers once the topics are in its log; the broker that answers
            # metadata requests knows them (and their leaders) a moment later.
            _wait_until(lambda: _ready(admin, missing), f"creation of {[s.name for s in missing]}")
        present = [spec for spec in specs if spec.name in existing]
        if not present:
            return changes
        partitions = _partition_counts(admin, present)
        grow = {s.name: s.partitions for s in present if partitions[s.name] < s.partitions}
        if grow:
            admin.create_partitions({n: NewPartitions(c) for n, c in grow.items()})
            changes += [f"grew {name} to {count} partitions" for name, count in grow.items()]
            _wait_until(
                lambda: all(_partition_counts(admin, present)[n] >= c for n, c in grow.items()),
                f"partition counts {grow}",
            )
        for spec in present:
            if partitions[spec.name] > spec.partitions:
                log.warning(
                    "%s keeps %d partitions: Kafka cannot shrink a topic to %d",
                    spec.name, partitions[spec.name], spec.partitions,
                )  # fmt: skip
        drift = _config_drift(admin, present)
        if drift:
            # AlterConfigs (the only config change kafka-python 2.x sends) replaces every
            # dynamic config of a topic: send the spec's whole set, not only what drifted, or
            # the others (message.timestamp.type of the raw topic ...) fall back to the defaults.
            _check(
                admin.alter_configs(
                    [
                        ConfigResource(ConfigResourceType.TOPIC, s.name, configs=s.configs)
                        for s in present
                        if s.name in drift
                    ]
                )
            )
            changes += [f"set {sorted(c)} on {n}" for n, c in drift.items()]
            altered = [spec for spec in present if spec.name in drift]
            _wait_until(lambda: not _config_drift(admin, altered), f"configs {drift}")
    return changes


def _partition_counts(admin, specs: list[TopicSpec]) -> dict[str, int]:
    described = admin.describe_topics([spec.name for spec in specs])
    return {topic["topic"]: len(topic["partitions"]) for topic in described}


def _ready(admin, specs: list[TopicSpec]) -> bool:
    """Whether the metadata shows every topic of ``specs`` with all its partitions led."""
    described = {t["topic"]: t for t in admin.describe_topics([spec.name for spec in specs])}
    return all(
        (topic := described.get(spec.name)) is not None
        and topic["error_code"] == 0
        and len(topic["partitions"]) == spec.partitions
        and all(p["leader"] >= 0 for p in topic["partitions"])
        for spec in specs
    )


def _config_drift(admin, specs: list[TopicSpec]) -> dict[str, dict[str, str]]:
    """The configs of each topic whose current value differs from its spec (topics in line: absent)."""
    responses = admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, spec.name) for spec in specs]
    )
    current: dict[str, dict[str, str]] = {}
    for response in responses:
        _check(response)
        for _error, _message, _type, name, entries in response.resources:
            current[name] = {entry[0]: entry[1] for entry in entries}  # (name, value, ...)
    drift = {
        spec.name: {k: v for k, v in spec.configs.items() if current[spec.name].get(k) != v}
        for spec in specs
    }
    return {name: configs for name, configs in drift.items() if configs}


def _check(response) -> None:
    """Raise the first per-topic error of a config response: kafka-python 2.x returns them."""
    for error_code, message, *_ in response.resources:
        if error_code:
            raise for_code(error_code)(message)


def _wait_until(applied: Callable[[], bool], change: str) -> None:
    deadline = time.monotonic() + _APPLY_TIMEOUT_SECONDS
    while not applied():
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"the broker did not apply {change} within {_APPLY_TIMEOUT_SECONDS:.0f} s"
            )
        time.sleep(_APPLY_POLL_SECONDS)


def _creation(spec: TopicSpec, settings: Settings) -> NewTopic:
    return NewTopic(
        spec.name,
        num_partitions=spec.partitions,
        replication_factor=settings.topics.replication_factor,
        topic_configs=spec.configs,
    )
