"""The lake sink (``omnicx sink``): lands the project's topics in the Parquet lake, exactly once.

A kafka-python consumer group reads every topic of ``warehouse.tables.LAKE_TABLES``. Records are
buffered per topic partition into batches; a batch closes when its offsets reach a multiple of
``sink_batch_rows`` (so that size-cut files have the same boundaries on every run) or when its
first record waited ``sink_batch_seconds``. A closed batch becomes one Parquet file per business
day of its rows (landing.by_business_day), all written (landing.write_all_atomically) and
recorded together in the partition's manifest before any is renamed (warehouse.manifest); only
then is its offset committed.

Exactly once: the sink's manifest, not the lake's file names nor the group's commits, says what
was landed. When a partition is assigned the sink quarantines the partition's files it did not
write, reconciles the manifest with the disk and resumes after the last offset it holds (from
the beginning when it holds none). A crash before the manifest record loses only the batch in
memory, which is read again; a crash between the record and the renames leaves records without
their files: on assignment the batch's files are dropped, those renamed included, and the batch
is read again; a crash between the renames and the commit costs nothing. Offsets are committed after their files (once per poll loop, retried until the
broker accepts them, and again on assignment) so that consumer lag can be monitored. Compaction
(warehouse.compaction) runs in the same loop, on the partitions this sink owns, so no two
processes ever rewrite the same files. So does retention (warehouse.retention): each sink drops
the expired rows of the tenants' first kept days, which the retention job publishes, from the
files of the partitions it owns, recording the rewritten files in their manifests.

Each sink holds a lock on its group instance id (warehouse.instances): two sinks sharing a lake
never join with the same id, and one that the group fences (another host took its id) stops. It
also holds the lake's maintenance lock shared (warehouse.erasure): an erasure, which rewrites
lake files, takes it exclusively, so the two never run at once.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from kafka import ConsumerRebalanceListener, KafkaConsumer, OffsetAndMetadata, TopicPartition
from kafka.errors import FencedInstanceIdError, KafkaError

from pipelines.kafka_io import consumer as kafka_consumer
from schemas.settings import Settings
from streams.metrics import serve_metrics
from warehouse.compaction import CompactionPolicy, compact_directory
from warehouse.erasure import hold_for_landing
from warehouse.instances import InstanceLock, lock_instance
from warehouse.landing import (
    KafkaRecord,
    LakeFile,
    by_business_day,
    day_dirs,
    lake_file_path,
    records_table,
    remove_temp_files,
    write_all_atomically,
)
from warehouse.layout import check_layout
from warehouse.manifest import Entry, PartitionManifest, manifest_path, quarantine_strays
from warehouse.retention import (
    Cutoffs,
    ages,
    drop_expired,
    prune_partition,
    read_cutoffs,
    retention_path,
)
from warehouse.sink_metrics import SinkMetrics
from warehouse.tables import LAKE_TABLES, LakeTable

log = logging.getLogger(__name__)

_MAX_POLL_MS = 500


@dataclass
class Batch:
    block: int  # offset // batch_rows: a batch never spans two blocks
    opened_at: float  # monotonic seconds
    records: list[KafkaRecord] = field(default_factory=list)


class SinkFenced(RuntimeError):
    """The group gave this sink's instance id to another sink: this one must stop."""


class LakeSink:
    """One sink process. ``run`` until ``should_stop`` returns true, then lands what it holds.
    Construction checks the lake's layout (LakeLayoutOutdated for a lake an older sink landed)
    and takes the instance id's lock (DuplicateInstance if another sink holds it)."""

    def __init__(self, settings: Settings, *, instance_id: str | None = None) -> None:
        w = settings.warehouse
        self.settings = settings
        self.lake_dir = settings.lake_dir
        check_layout(self.lake_dir)
        # Shared with other sinks, exclusive for an erasure rewriting the lake (warehouse.erasure)
        self.maintenance = hold_for_landing(self.lake_dir)
        self.instance: InstanceLock = lock_instance(
            self.lake_dir, w.sink_group_id, instance_id or w.sink_instance_id or None
        )
        self.instance_id = self.instance.instance_id
        self.tables: dict[str, LakeTable] = {t.topic_name(settings): t for t in LAKE_TABLES}
        self.batch_rows = w.sink_batch_rows
        self.batch_seconds = w.sink_batch_seconds
        self.policy = CompactionPolicy(
            w.compact_min_files, w.compact_target_rows, w.compact_grace_seconds
        )
        self.batches: dict[TopicPartition, Batch] = {}
        self.manifests: dict[TopicPartition, PartitionManifest] = {}
        self.landed: dict[TopicPartition, int] = {}  # last offset landed, -1: none
        # Next offset to commit, per partition; kept until the broker accepts the commit.
        self.to_commit: dict[TopicPartition, int] = {}
        # Directories holding replaced parts, and when their grace period ends.
        self.sweeps: dict[tuple[TopicPartition, Path], float] = {}
        self.rows_landed = 0
        self.files_landed = 0
        self.lag = 0  # records of the assigned partitions not yet landed, at the last loop
        self.quarantined: list[Path] = []  # where foreign files were moved
        self.metrics = SinkMetrics()
        self.quarantined_counted = 0  # of self.quarantined, in metrics.quarantined_files
        self.consumer: KafkaConsumer | None = None
        self.commit_timeout_ms = int(settings.kafka.request_timeout_seconds * 1000)
        # Tenants' first kept days (warehouse.retention), and the retention file's stamp
        # when they were read: a new file is applied to every partition held.
        self.cutoffs: Cutoffs = read_cutoffs(self.lake_dir)
        self.cutoffs_stamp = _stamp(retention_path(self.lake_dir))

    def run(
        self,
        should_stop: Callable[[], bool],
        on_loop: Callable[[LakeSink], None] | None = None,
    ) -> None:
        """Land until ``should_stop()``; ``on_loop`` sees the sink after each poll loop (its
        counts and lag, for a progress display)."""
        try:
            self._run(should_stop, on_loop)
        except FencedInstanceIdError as exc:
            raise SinkFenced(
                f"another sink joined group {self.settings.warehouse.sink_group_id} with "
                f"instance id {self.instance_id!r}: this one stops"
            ) from exc
        finally:
            self.instance.release()
            self.maintenance.close()

    def _run(
        self, should_stop: Callable[[], bool], on_loop: Callable[[LakeSink], None] | None
    ) -> None:
        self.consumer = kafka_consumer(
            self.settings,
            group_id=self.settings.warehouse.sink_group_id,
            # Static membership: a restarted sink takes its partitions back at once instead of
            # waiting for the group to time the dead one out.
            group_instance_id=self.instance_id,
            client_id=f"omnicx-sink-{self.instance_id}",
            enable_auto_commit=False,
            max_poll_records=min(self.batch_rows, 10_000),
        )
        try:
            self.consumer.subscribe(list(self.tables), listener=_Rebalance(self))
            while not should_stop():
                for tp, records in self._poll().items():
                    self._take(tp, records)
                self._close_due_batches()
                self._commit()
                self._sweep_due()
                self._apply_retention()
                self._loop_done(on_loop)
            for tp in list(self.batches):
                self._land(tp)
            self._commit()
            self._loop_done(on_loop)  # what stopping landed, too
        finally:
            self.consumer.close(autocommit=False)
            log.info("landed %d rows in %d files", self.rows_landed, self.files_landed)

    def _poll(self) -> dict[TopicPartition, list[KafkaRecord]]:
        try:
            return self.consumer.poll(timeout_ms=self._poll_timeout_ms())
        except KafkaError as exc:
            if not exc.retriable:
                raise
            # kafka-python 2.x re-raises from poll what stopped its heartbeat thread, and the
            # next poll starts a new one. (A broker that went away raises nothing: poll returns
            # empty at its timeout while the client reconnects; commits then fail and are
            # counted.) The batches held stay, and are landed when due.
            log.warning("poll failed (%s); polling again in a second", exc)
            self.metrics.poll_failures.inc()
            time.sleep(1.0)
            return {}

    # -------------------------------------------------------------- partitions

    def assigned(self, partitions: list[TopicPartition]) -> None:
        with _Metadata(self.settings) as metadata:
            for tp in partitions:
                self._take_over(tp, metadata)

    def _take_over(self, tp: TopicPartition, metadata: _Metadata) -> None:
        table = self.tables[tp.topic]
        remove_temp_files(self.lake_dir, table, tp.partition)
        if tp.partition == 0:  # one owner looks after files of no partition
            count = metadata.partition_count(tp.topic)
            self.quarantined += quarantine_strays(self.lake_dir / table.name, count)
        manifest = self._manifest(tp, table)
        directories = day_dirs(self.lake_dir, table)
        resume = manifest.reconcile(directories)
        for directory in directories:
            self._compact(tp, directory)  # finishes what a crashed compaction left
        prune_partition(table, manifest, self.cutoffs)
        self.landed[tp] = -1 if resume is None else resume - 1
        if resume is None:
            self.consumer.seek_to_beginning(tp)
        else:
            self.consumer.seek(tp, resume)
            self.to_commit[tp] = resume  # in case a crash came before the commit
        log.info("%s[%d]: resuming at offset %s", tp.topic, tp.partition, resume)

    def _manifest(self, tp: TopicPartition, table: LakeTable) -> PartitionManifest:
        path = manifest_path(self.lake_dir, table, tp.partition)
        manifest = PartitionManifest(
            path, self.lake_dir / table.name, tp.partition, quarantined=self.quarantined
        )
        self.manifests[tp] = manifest
        return manifest

    def revoked(self, partitions: list[TopicPartition]) -> None:
        # The next owner resumes from the manifest: what is buffered here is simply read again.
        for tp in partitions:
            self.batches.pop(tp, None)
            self.manifests.pop(tp, None)
            self.landed.pop(tp, None)
            self.to_commit.pop(tp, None)
        for key in [k for k in self.sweeps if k[0] in partitions]:
            del self.sweeps[key]

    # ----------------------------------------------------------------- batches

    def _take(self, tp: TopicPartition, records: list[KafkaRecord]) -> None:
        for record in records:
            if record.offset <= self.landed.get(tp, -1):
                continue  # already in the lake
            block = record.offset // self.batch_rows
            batch = self.batches.get(tp)
            if batch is not None and batch.block != block:
                self._land(tp)
                batch = None
            if batch is None:
                batch = self.batches[tp] = Batch(block, time.monotonic())
            batch.records.append(record)
            if (record.offset + 1) % self.batch_rows == 0:
                self._land(tp)

    def _close_due_batches(self) -> None:
        now = time.monotonic()
        for tp in [tp for tp, b in self.batches.items() if now - b.opened_at >= self.batch_seconds]:
            self._land(tp)

    def _poll_timeout_ms(self) -> int:
        if not self.batches:
            return _MAX_POLL_MS
        oldest = min(b.opened_at for b in self.batches.values())
        left = oldest + self.batch_seconds - time.monotonic()
        return max(0, min(_MAX_POLL_MS, int(left * 1000)))

    def _land(self, tp: TopicPartition) -> None:
        started = time.perf_counter()
        records = self.batches.pop(tp).records
        table = self.tables[tp.topic]
        first, last = records[0].offset, records[-1].offset
        data = records_table(table, records)
        if data.num_rows:  # a batch of tombstones only leaves no file
            # Rows of a day a tenant's retention dropped already are not landed again (a late
            # contact version, say); their offsets are, in a file that may be empty.
            files = [
                (
                    drop_expired(rows, date.fromisoformat(day), self.cutoffs)
                    if ages(table)
                    else rows,
                    lake_file_path(self.lake_dir, table, day, tp.partition, first, last),
                )
                for day, rows in by_business_day(table, data)
            ]
            manifest = self.manifests[tp]

            def record(sizes: list[int]) -> None:
                manifest.added_all(
                    [
                        Entry(LakeFile(path, tp.partition, first, last), rows.num_rows, size)
                        for (rows, path), size in zip(files, sizes, strict=True)
                    ]
                )

            write_all_atomically(files, record)
            self.rows_landed += data.num_rows
            self.files_landed += len(files)
            metrics = self.metrics
            metrics.rows_landed.labels(table.name).inc(data.num_rows)
            metrics.files_landed.labels(table.name).inc(len(files))
            metrics.land_seconds.labels(table.name).observe(time.perf_counter() - started)
            for _, path in files:
                self._compact(tp, path.parent)
        self.landed[tp] = last
        self.to_commit[tp] = last + 1

    def _commit(self) -> None:
        if not self.to_commit:
            return
        pending = dict(self.to_commit)
        try:
            # Bounded: kafka-python 2.x retries a commit until it succeeds unless given a
            # timeout, which would stop the loop (and the landing) for a whole broker outage.
            self.consumer.commit(
                {tp: OffsetAndMetadata(o, "", -1) for tp, o in pending.items()},
                timeout_ms=self.commit_timeout_ms,
            )
        except FencedInstanceIdError:
            raise  # not a passing outage: ``run`` stops the sink
        except KafkaError as exc:
            # Harmless for the data (the manifest says what is landed), but lag monitoring
            # reads the commits: keep them and try again next loop.
            log.warning("commit failed (%s); retrying on the next loop", exc)
            self.metrics.commit_failures.inc()
            return
        for tp, offset in pending.items():
            if self.to_commit.get(tp) == offset:  # a newer offset waits for the next commit
                del self.to_commit[tp]

    def _loop_done(self, on_loop: Callable[[LakeSink], None] | None) -> None:
        self._refresh_metrics()
        if on_loop is not None:
            on_loop(self)

    def _refresh_metrics(self) -> None:
        """Once per poll loop, what the metrics read rather than count: the lag of each
        assigned partition (from the high watermark of the last fetch, no broker request) and
        the files quarantined since the last loop."""
        lags = {}
        for tp, landed in self.landed.items():
            high = self.consumer.highwater(tp)
            if high is not None:
                lags[(tp.topic, tp.partition)] = max(0, high - (landed + 1))
        self.metrics.lag.set(lags)
        self.lag = sum(lags.values())
        moved = len(self.quarantined) - self.quarantined_counted
        if moved:
            self.metrics.quarantined_files.inc(moved)
            self.quarantined_counted += moved

    # -------------------------------------------------------------- retention

    def _apply_retention(self) -> None:
        """Apply a newly published retention file to every partition this sink holds."""
        path = retention_path(self.lake_dir)
        stamp = _stamp(path)
        if stamp == self.cutoffs_stamp:
            return
        self.cutoffs, self.cutoffs_stamp = read_cutoffs(self.lake_dir), stamp
        for tp, manifest in self.manifests.items():
            dropped = prune_partition(self.tables[tp.topic], manifest, self.cutoffs)
            if dropped:
                log.info("%s[%d]: retention dropped %d rows", tp.topic, tp.partition, dropped)

    # -------------------------------------------------------------- compaction

    def _compact(self, tp: TopicPartition, directory: Path) -> None:
        result = compact_directory(directory, self.manifests[tp], self.policy, time.time())
        if result.waiting:
            self.sweeps[(tp, directory)] = time.time() + self.policy.grace_seconds
        else:
            self.sweeps.pop((tp, directory), None)

    def _sweep_due(self) -> None:
        now = time.time()
        for tp, directory in [k for k, due in self.sweeps.items() if due <= now]:
            self._compact(tp, directory)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return info.st_mtime_ns, info.st_ino


class _Metadata:
    """Partition counts, asked of a client of its own (made when first needed): the rebalance
    listener runs inside the group consumer's poll (kafka-python 2.x calls it from the polling
    thread, mid-join), where a metadata request of that consumer would re-enter its poll."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.reader: KafkaConsumer | None = None

    def __enter__(self) -> _Metadata:
        return self

    def __exit__(self, *_) -> None:
        if self.reader is not None:
            self.reader.close()

    def _client(self) -> KafkaConsumer:
        if self.reader is None:
            self.reader = kafka_consumer(self.settings)
        return self.reader

    def partition_count(self, topic: str) -> int:
        return len(self._client().partitions_for_topic(topic) or ())


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, sink: LakeSink) -> None:
        self.sink = sink

    def on_partitions_revoked(self, revoked) -> None:
        self.sink.revoked(list(revoked))

    def on_partitions_assigned(self, assigned) -> None:
        self.sink.assigned(list(assigned))


def run_sink(
    settings: Settings,
    instance_id: str | None = None,
    on_loop: Callable[[LakeSink], None] | None = None,
) -> LakeSink:
    """Run a sink until SIGTERM or SIGINT, then land what it holds and return; ``on_loop`` as
    for ``LakeSink.run``."""
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    sink = LakeSink(settings, instance_id=instance_id)
    w = settings.warehouse
    serve_metrics(
        sink.metrics.registry,
        w.sink_metrics_address,
        w.sink_metrics_port,
        "warehouse.sink_metrics_port",
    )
    sink.run(stopping.is_set, on_loop)
    return sink
