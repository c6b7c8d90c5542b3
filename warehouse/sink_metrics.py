"""The lake sink's Prometheus metrics (docs/warehouse.md, Metrics).

Counted once per landed file or per poll loop, never per record. Each sink has its own registry,
served (``streams.metrics.serve_metrics``) when ``warehouse.sink_metrics_port`` is set.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from streams.metrics import PartitionLag

# Seconds to turn one batch into a Parquet file, write it, sync it and record it in the
# manifest: a few ms for a small file, a second or more for sink_batch_rows of wide records.
_LAND_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class SinkMetrics:
    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.rows_landed = Counter(
            "omnicx_sink_rows_landed",
            "Rows the sink wrote to the lake, by table",
            ["table"],
            registry=registry,
        )
        self.files_landed = Counter(
            "omnicx_sink_files_landed",
            "Parquet files the sink wrote to the lake, by table (before compaction)",
            ["table"],
            registry=registry,
        )
        self.land_seconds = Histogram(
            "omnicx_sink_land_seconds",
            "Wall time to land one batch: Parquet encoding, atomic write, manifest record",
            ["table"],
            buckets=_LAND_BUCKETS,
            registry=registry,
        )
        self.commit_failures = Counter(
            "omnicx_sink_commit_failures",
            "Offset commits the broker refused or did not answer (retried on the next loop)",
            registry=registry,
        )
        self.poll_failures = Counter(
            "omnicx_sink_poll_failures",
            "Polls that failed because the broker could not be reached (polled again)",
            registry=registry,
        )
        self.quarantined_files = Counter(
            "omnicx_sink_quarantined_files",
            "Files in the lake the sink did not write, moved to _sink/quarantine",
            registry=registry,
        )
        self.lag = PartitionLag(
            "omnicx_sink_consumer_lag",
            "Records of an assigned partition not yet in the lake (high watermark - next offset)",
            registry,
        )
