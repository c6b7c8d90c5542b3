"""The delivery worker's Prometheus metrics (docs/alerts.md, Delivery), served at
``[alerts] metrics_port`` when set; counted once per attempt or outcome."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Seconds from the alert's creation in the stream to its outcome: the goal is a few seconds.
_LATENCY_BUCKETS = (0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600)


class DeliveryMetrics:
    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.outcomes = Counter(
            "omnicx_alerts_deliveries",
            "Alerts delivered or failed for good, by channel and status",
            ["channel", "status"],
            registry=registry,
        )
        self.failed_attempts = Counter(
            "omnicx_alerts_failed_attempts",
            "Attempts that failed (each retry counts), by channel",
            ["channel"],
            registry=registry,
        )
        self.latency = Histogram(
            "omnicx_alerts_delivery_latency_seconds",
            "Seconds from the alert's creation (created_at) to its delivery, by channel",
            ["channel"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.pending = Gauge(
            "omnicx_alerts_pending",
            "Alert records read and not yet delivered or failed on every channel",
            registry=registry,
        )
