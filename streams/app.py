"""The Faust application: built from the settings, never at import time."""

from __future__ import annotations

from faust.tables.manager import TableManager

from schemas.settings import Settings
from streams.agents import Outputs, wire
from streams.batches import BatchingApp
from streams.liveness import watch_for_stalls
from streams.metrics import StreamMetrics
from streams.output import BatchProducer
from streams.wallboard_agents import wire_wallboard


class PromptTableManager(TableManager):
    """Faust's table manager, without the second it waits before it registers the tables (for
    tables an app might still declare while it starts): every table of this app exists before
    its worker starts (``create_app``), and each worker start would wait that second for
    nothing."""

    async def on_start(self) -> None:
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()


def create_app(
    settings: Settings,
    worker_name: str = "worker-1",
    store: str = "rocksdb://",
    outputs: Outputs | None = None,
    metrics: StreamMetrics | None = None,
) -> BatchingApp:
    """The stream app for one worker; ``worker_name`` keeps its RocksDB state apart from other
    workers on the same machine (each directory may be opened by one process only). Agent unit
    tests pass ``store="memory://"`` (no RocksDB) and ``outputs`` that record what is sent;
    ``metrics`` are the worker's (streams.metrics), fresh ones when not given."""
    datadir = (settings.home / "stream" / worker_name).resolve()
    datadir.mkdir(parents=True, exist_ok=True)
    app = BatchingApp(
        settings.stream.app_id,
        broker=f"kafka://{settings.kafka.bootstrap}",
        store=store,
        datadir=str(datadir),
        topic_partitions=settings.topics.partitions,
        topic_replication_factor=settings.topics.replication_factor,
        consumer_auto_offset_reset="earliest",
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=False,
        table_standby_replicas=0,
        stream_buffer_maxsize=settings.stream.batch_size * 8,
        broker_commit_every=settings.stream.batch_size * 10,
        broker_commit_interval=settings.stream.commit_interval_seconds,
        # A fetch of the raw topic is one ingest batch (streams.batches): at most this many.
        broker_max_poll_records=settings.stream.batch_size,
        # Faust fetches 1 MiB per partition by default: about a thousand customer-stage items of
        # the identity topic, which left the customers agent idle between fetches (measured;
        # docs/streams.md, Cost).
        consumer_max_fetch_size=8 * 1024 * 1024,
        broker_session_timeout=settings.stream.session_timeout_seconds,
        # three heartbeats a session at least, as Kafka advises
        broker_heartbeat_interval=min(3.0, settings.stream.session_timeout_seconds / 3),
        producer_linger_ms=5,
        producer_max_batch_size=256 * 1024,
        TableManager=PromptTableManager,
    )
    if outputs is None:
        outputs = BatchProducer(settings.kafka.bootstrap, f"{settings.stream.app_id}-{worker_name}")
    wire(app, settings, outputs, metrics or StreamMetrics())
    wire_wallboard(app, settings, outputs)
    watch_for_stalls(app, settings)
    return app
