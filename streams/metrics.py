"""The stream worker's Prometheus metrics (docs/streams.md, Metrics).

Counters move once per batch by the batch's counts, never per message: the ingest stage costs
a few microseconds a message and a labelled counter increment costs about a microsecond. What
is read rather than counted (consumer lag, state sizes) is refreshed every
``REFRESH_SECONDS`` by a timer of the app, from numbers the consumer and RocksDB keep anyway.

Each worker has its own registry, served by :func:`serve_metrics` when ``stream.metrics_port``
is set; unit tests read it with ``registry.get_sample_value``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from streams.dead_letters import DEAD_LETTER_REASONS

REFRESH_SECONDS = 2.0

# Latency buckets of one batch, in seconds: a batch of 1,000 raw messages takes some 10-50 ms.
_BATCH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class StreamMetrics:
    """The metrics of one worker process, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.messages_in = Counter(
            "omnicx_stream_messages_in",
            "Kafka messages a stage consumed (ingest: raw topic; customers: identity topic)",
            ["stage"],
            registry=registry,
        )
        self.records_out = Counter(
            "omnicx_stream_records_out",
            "Records a stage produced, by output",
            ["stage", "output"],
            registry=registry,
        )
        self.duplicates = Counter(
            "omnicx_stream_duplicates_dropped",
            "Valid events the ingest stage dropped as already seen (same event_id)",
            registry=registry,
        )
        self.dead_letters = Counter(
            "omnicx_stream_dead_letters",
            "Messages the ingest stage turned into dead letters, by reason",
            ["reason"],
            registry=registry,
        )
        self.batch_seconds = Histogram(
            "omnicx_stream_batch_seconds",
            "Wall time of one batch of a stage: processing, outputs acknowledged, state written",
            ["stage"],
            buckets=_BATCH_BUCKETS,
            registry=registry,
        )
        self.state_keys = Gauge(
            "omnicx_stream_state_keys",
            "Keys of a state table held by this worker (RocksDB's estimate)",
            ["table"],
            registry=registry,
        )
        self.lag = PartitionLag(
            "omnicx_stream_consumer_lag",
            "Messages of an assigned partition not yet processed (high watermark - next offset)",
            registry,
        )
        for reason in DEAD_LETTER_REASONS:  # every reason scrapes as 0 before its first one
            self.dead_letters.labels(reason)
        # Next offset to process per partition, for the lag; dropped when a partition goes.
        self.processed: dict[Any, int] = {}

    def batch(
        self, stage: str, messages_in: int, outputs: Mapping[str, int], seconds: float
    ) -> None:
        """One batch of ``stage``: the messages it consumed, the records it produced per output
        and how long it took."""
        self.messages_in.labels(stage).inc(messages_in)
        for output, count in outputs.items():
            if count:
                self.records_out.labels(stage, output).inc(count)
        self.batch_seconds.labels(stage).observe(seconds)

    def ingested(self, duplicates: int, dead_letter_reasons: Mapping[str, int]) -> None:
        """What an ingest batch dropped: duplicates, and dead letters by reason."""
        if duplicates:
            self.duplicates.inc(duplicates)
        for reason, count in dead_letter_reasons.items():
            self.dead_letters.labels(reason).inc(count)


class PartitionLag:
    """A gauge of consumer lag per assigned partition, which drops the partitions a rebalance
    took away (a stale value would report another process's lag as this one's)."""

    def __init__(self, name: str, documentation: str, registry: CollectorRegistry) -> None:
        self.gauge = Gauge(name, documentation, ["topic", "partition"], registry=registry)
        self.partitions: set[tuple[str, int]] = set()

    def set(self, lags: Mapping[tuple[str, int], int]) -> None:
        """The lag of every assigned partition, ``(topic, partition) -> lag``."""
        for topic, partition in self.partitions - set(lags):
            self.gauge.remove(topic, str(partition))
        for (topic, partition), lag in lags.items():
            self.gauge.labels(topic, str(partition)).set(lag)
        self.partitions = set(lags)


def serve_metrics(registry: CollectorRegistry, address: str, port: int, setting: str) -> None:
    """Serve ``registry`` over HTTP (``/metrics``) from a daemon thread; nothing when ``port``
    is 0. A taken port stops the process with an error naming the ``setting`` to change."""
    if not port:
        return
    try:
        start_http_server(port, addr=address, registry=registry)
    except OSError as exc:
        raise SystemExit(
            f"cannot serve metrics on {address}:{port} ({exc.strerror}): give this process "
            f"another port ({setting}), or 0 for none"
        ) from None
