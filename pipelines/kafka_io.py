"""Kafka clients with bounded waits and one clear error when no broker answers.

kafka-python retries a missing broker for a long time by default; an operator who typed the
wrong address should hear so in seconds, in one line.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaConfigurationError, KafkaError

from schemas.settings import Settings


class KafkaUnavailable(RuntimeError):
    """No Kafka broker answered at the configured bootstrap address."""


def _waits(settings: Settings) -> dict[str, int]:
    ms = int(settings.kafka.request_timeout_seconds * 1000)
    return {
        "request_timeout_ms": ms,
        # bounds the first contact (the version probe) as well
        "api_version_auto_timeout_ms": ms,
        # kafka-python backs off reconnecting to a broker that went away up to 30 s (doubling
        # from 50 ms): a sink whose broker was back after 20 s reconnected 24 s later. Kafka's
        # own clients stop at 1 s, as here.
        "reconnect_backoff_max_ms": 1000,
    }


def unavailable(settings: Settings, cause: BaseException) -> KafkaUnavailable:
    return KafkaUnavailable(
        f"no Kafka broker answers at {settings.kafka.bootstrap} "
        f"({type(cause).__name__}); start one with `omnicx kafka start` or check OMNICX_KAFKA_*"
    )


@contextmanager
def admin_client(settings: Settings) -> Iterator[KafkaAdminClient]:
    try:
        client = KafkaAdminClient(
            bootstrap_servers=settings.kafka.bootstrap,
            client_id="omnicx-admin",
            **_waits(settings),
        )
    except (KafkaError, OSError) as exc:
        raise unavailable(settings, exc) from None
    try:
        yield client
    finally:
        client.close()


def producer(settings: Settings, **overrides: Any) -> KafkaProducer:
    """A producer that waits for all in-sync replicas and batches (override per use)."""
    config: dict[str, Any] = {
        "bootstrap_servers": settings.kafka.bootstrap,
        "acks": "all",
        "linger_ms": 20,
        "batch_size": 256 * 1024,
        "max_block_ms": int(settings.kafka.request_timeout_seconds * 1000),
        **_waits(settings),
    }
    config.update(overrides)
    try:
        return KafkaProducer(**config)
    except (KafkaError, OSError) as exc:
        raise unavailable(settings, exc) from None


def consumer(settings: Settings, *topics: str, **overrides: Any) -> KafkaConsumer:
    config: dict[str, Any] = {
        "bootstrap_servers": settings.kafka.bootstrap,
        "auto_offset_reset": "earliest",
        "enable_auto_commit": False,
        **_waits(settings),
    }
    config.update(overrides)
    if config.get("group_id") is not None:
        # A JoinGroup waits at the coordinator until every member rejoined, up to the rebalance
        # timeout (max_poll_interval_ms). kafka-python 2.x gives it the client's request timeout
        # (and refuses one not above the session timeout), so a group member takes Kafka's own
        # bound for the join: the rebalance timeout plus 5 s. The first contact stays bounded
        # by api_version_auto_timeout_ms, and a commit by its own timeout.
        config["request_timeout_ms"] = max(
            config["request_timeout_ms"],
            config.get("max_poll_interval_ms", KafkaConsumer.DEFAULT_CONFIG["max_poll_interval_ms"])
            + 5_000,
        )
    try:
        return KafkaConsumer(*topics, **config)
    except KafkaConfigurationError:
        raise  # a wrong setting, not a missing broker
    except (KafkaError, OSError) as exc:
        raise unavailable(settings, exc) from None


def broker_answers(settings: Settings, timeout_seconds: float) -> bool:
    """Whether the broker answers a metadata request within ``timeout_seconds``. An address
    that refuses the connection is no for an answer at once: the Kafka client would retry it
    until the timeout (a supervisor waiting for its broker probes every few seconds)."""
    if not any(
        _accepts(address, timeout_seconds) for address in settings.kafka.bootstrap.split(",")
    ):
        return False
    quick = replace(
        settings, kafka=replace(settings.kafka, request_timeout_seconds=timeout_seconds)
    )
    try:
        with admin_client(quick) as admin:
            admin.list_topics()
    except (KafkaUnavailable, KafkaError, OSError):
        return False
    return True


def _accepts(address: str, timeout_seconds: float) -> bool:
    """Whether ``host:port`` accepts a TCP connection within ``timeout_seconds``."""
    host, _, port = address.strip().rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_seconds):
            return True
    except (OSError, ValueError):
        return False
