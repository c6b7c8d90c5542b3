"""Send raw event messages to Kafka's raw-events topic, keyed like the sources key them.

The key is derived from the message itself (``message_key``), so replaying an ``events.jsonl``
gives exactly the messages the simulator sent live, malformed ones included: the stream must
see in Kafka what a real feed would put there.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from pipelines.kafka_io import producer
from schemas.routing import routing_key
from schemas.settings import Settings
from schemas.topics import topic_names


def message_key(value: bytes) -> bytes | None:
    """The routing key of a message (``schemas.routing``), UTF-8; None when it is not a JSON
    object or has no routing field."""
    try:
        event = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    key = routing_key(event) if isinstance(event, dict) else None
    return None if key is None else key.encode()


def raw_events_topic(settings: Settings) -> str:
    return topic_names(settings).raw_events


def produce(
    messages: Iterable[bytes],
    settings: Settings,
    *,
    topic: str | None = None,
    client: Any = None,
) -> int:
    """Send every message in order (batched, acks=all, idempotent so that retries keep the
    order of a key); returns how many. ``client`` is a ready producer to use instead of a new
    one (it is flushed, not closed). Raises RuntimeError if any send failed."""
    own = client is None
    if own:
        client = producer(settings, linger_ms=50, batch_size=512 * 1024, enable_idempotence=True)
    topic = topic or raw_events_topic(settings)
    failures: list[BaseException] = []
    count = 0
    try:
        for value in messages:
            future = client.send(topic, value=value, key=message_key(value))
            future.add_errback(failures.append)
            count += 1
        client.flush()
    finally:
        if own:
            client.close()
    if failures:
        raise RuntimeError(f"{len(failures)} of {count} messages were not sent: {failures[0]!r}")
    return count
