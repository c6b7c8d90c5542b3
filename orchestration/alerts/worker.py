"""The delivery worker (``omnicx alerts deliver``): every alert to every channel, once.

A process of its own with its own consumer group (``[alerts] group_id``) on the ``alerts``
topic: however slow a receiver, the stream that produces the alerts never waits for it.

Each channel has its own queue and ``channel_concurrency`` tasks, so a receiver that hangs
holds only its own deliveries (each attempt ends at ``request_timeout_seconds``); the others go
on. An attempt that fails with a retryable error (a timeout, a refused connection, HTTP 5xx, 408,
429, SMTP 4xx) is tried again after an exponential backoff (tenacity) until ``max_attempts``
attempts, counted in the delivery log across restarts; a refusal (other 4xx, SMTP 5xx) fails at
once. The outcome, delivered or failed with its error, is written to the delivery log
(``orchestration.alerts.log``) and then published on the ``alert-deliveries`` topic, which the
lake sink lands for the warehouse (``int_alert_deliveries``).

A record's offset is committed only when the alert is delivered or failed on every channel
that takes it (and every earlier offset of its partition is too), so a crash loses no alert.
Nothing is sent twice: an alert whose delivery log row is final on a channel is skipped there,
after a restart as for a second record with the same alert_id (a stream replay). A crash after
a receiver got the alert but before its outcome was written sends it again, with the same
``webhook-id`` (and e-mail Message-ID), by which receivers drop the copy (Standard Webhooks).
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import logging
import os
import socket
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from tenacity import AsyncRetrying, retry_if_exception, wait_exponential

from orchestration.alerts.channels import Channel, DeliveryError, configured_channels
from orchestration.alerts.keys import BusinessKeys
from orchestration.alerts.log import DELIVERED, FAILED, FINAL, DeliveryLog
from orchestration.alerts.metrics import DeliveryMetrics
from orchestration.alerts.record import InvalidAlert, parse_alert, parse_time, rfc3339
from orchestration.alerts.record import with_business_keys as with_keys
from schemas.settings import Settings
from schemas.topics import topic_names
from streams.dead_letters import DeadLetterRecords, dead_letter_records

log = logging.getLogger(__name__)

_POLL_MS = 200
Key = tuple[str, str]  # (alert_id, channel)


class WorkerRunning(RuntimeError):
    """Another delivery worker holds this delivery log."""


@dataclass
class DeliveryCounts:
    delivered: int = 0
    failed: int = 0
    skipped: int = 0  # (alert, channel) pairs already final in the log
    invalid: int = 0  # records that are not alerts


def delivery_instance_id(settings: Settings) -> str:
    """The worker's static member id in its group: one worker per delivery log (its lock), so
    the log's host and path name it, the same across restarts."""
    where = f"{socket.gethostname()}:{settings.alert_delivery_log.resolve()}"
    return "omnicx-alerts-deliver-" + hashlib.sha256(where.encode()).hexdigest()[:16]


def _now() -> datetime:
    return datetime.now(UTC)


class DeliveryWorker:
    def __init__(self, settings: Settings, *, retry_failed: bool = False) -> None:
        self.settings = settings
        self.alerts = settings.alerts
        self.topics = topic_names(settings)
        self.retry_failed = retry_failed
        self.counts = DeliveryCounts()
        self.metrics = DeliveryMetrics()
        self._lock_fd = lock_delivery_log(settings.alert_delivery_log)
        self.log = DeliveryLog(settings.alert_delivery_log)
        self.channels: list[Channel] = []
        self.queues: dict[str, asyncio.Queue] = {}
        # (alert_id, channel) in flight -> the records (partition, offset) waiting for it.
        self.waiting: dict[Key, list[tuple[TopicPartition, int]]] = {}
        # Per partition: offsets read and not finished -> how many deliveries they wait for.
        self.open: dict[TopicPartition, dict[int, int]] = defaultdict(dict)
        self.next_offset: dict[TopicPartition, int] = {}
        self.committed: dict[TopicPartition, int] = {}
        # Records that are not alerts, until their dead letters are published.
        self.dead: list[tuple[TopicPartition, int, bytes | None, DeadLetterRecords]] = []

    async def run(self, stop: asyncio.Event) -> DeliveryCounts:
        try:
            async with aiohttp.ClientSession() as session:
                self.channels = configured_channels(self.settings, session)
                await self._run(stop)
        finally:
            self.log.close()
            os.close(self._lock_fd)
        return self.counts

    async def _run(self, stop: asyncio.Event) -> None:
        kafka = self.settings.kafka.bootstrap
        consumer = AIOKafkaConsumer(
            self.topics.alerts,
            bootstrap_servers=kafka,
            group_id=self.alerts.group_id,
            # Static membership: a restarted worker (after a crash, or supervised) takes its
            # partitions back at once instead of waiting for the group to time the dead one out.
            group_instance_id=delivery_instance_id(self.settings),
            client_id="omnicx-alerts-deliver",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=min(500, self.alerts.max_pending),
        )
        producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all")
        keys = BusinessKeys(self.settings, self.log)
        tasks: list[asyncio.Task] = []
        try:
            await producer.start()
            await keys.start()
            await consumer.start()
            tasks = self._start_channels()
            if self.retry_failed:
                self._reopen_failed()
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=_POLL_MS)
                if batch:
                    await keys.catch_up()
                for tp, records in batch.items():
                    for record in records:
                        self._take(tp, record.offset, record.key, record.value)
                await self._dead_letter(producer)
                self._flow_control(consumer)
                await self._commit(consumer)
                await self._publish(producer)
            await self._commit(consumer)
        finally:
            for task in tasks:
                task.cancel()  # attempts in flight stay pending: sent again on the next run
            await asyncio.gather(*tasks, return_exceptions=True)
            if tasks:  # it started: what finished is published
                await self._publish(producer)
            await consumer.stop()
            await keys.stop()
            await producer.stop()

    # -- reading ----------------------------------------------------------------------------

    def _take(
        self, tp: TopicPartition, offset: int, key: bytes | None, value: bytes | None
    ) -> None:
        self.next_offset[tp] = offset + 1
        try:
            alert = parse_alert(value)
        except InvalidAlert as exc:
            self.counts.invalid += 1
            log.error("%s[%d] offset %d is not an alert record: %s (a dead letter)",
                      tp.topic, tp.partition, offset, exc)  # fmt: skip
            records = dead_letter_records(
                value, f"$: not an alert record: {exc}", tp.topic, tp.partition, offset,
                max_stored_bytes=self.settings.stream.max_message_bytes,
            )  # fmt: skip
            self.dead.append((tp, offset, key, records))
            self.open[tp][offset] = 1  # committed once the dead letter is published
            return
        self.log.keep_alert(alert, rfc3339(_now()))
        waits = 0
        for channel in self.channels:
            if not channel.accepts(alert):
                continue
            wanted = (alert["alert_id"], channel.name)
            done = self.log.delivery(*wanted)
            if done is not None and done.status in FINAL:
                self.counts.skipped += 1
                continue
            waits += 1
            if wanted in self.waiting:  # the same alert twice in flight: one delivery for both
                self.waiting[wanted].append((tp, offset))
                continue
            self.waiting[wanted] = [(tp, offset)]
            self.queues[channel.name].put_nowait(alert)
        if waits:
            self.open[tp][offset] = waits

    def _reopen_failed(self) -> None:
        for delivery in self.log.reopen_failed(self.queues):
            alert = self.log.alert(delivery.alert_id)
            key = (delivery.alert_id, delivery.channel)
            if alert is not None and key not in self.waiting:
                self.waiting[key] = []
                self.queues[delivery.channel].put_nowait(alert)
                log.info("retrying failed delivery of %s to %s", *key)

    def _flow_control(self, consumer: AIOKafkaConsumer) -> None:
        """Stop reading while max_pending records wait for deliveries; read again below it."""
        pending = sum(len(offsets) for offsets in self.open.values())
        self.metrics.pending.set(pending)
        assigned = list(consumer.assignment())
        if pending >= self.alerts.max_pending:
            consumer.pause(*assigned)
        elif consumer.paused():
            consumer.resume(*assigned)

    async def _commit(self, consumer: AIOKafkaConsumer) -> None:
        """Commit each partition up to its first record not yet delivered or failed."""
        offsets = {}
        assigned = consumer.assignment()  # a partition given to another worker is its to commit
        for tp, after_last in self.next_offset.items():
            if tp not in assigned:
                continue
            position = min(self.open[tp], default=after_last)
            if position > self.committed.get(tp, -1):
                offsets[tp] = position
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except KafkaError as exc:  # the records are read again: the log skips what is final
            log.warning("commit failed (%s); retrying on the next loop", exc)
            return
        self.committed.update(offsets)

    # -- delivering -------------------------------------------------------------------------

    def _start_channels(self) -> list[asyncio.Task]:
        tasks = []
        for channel in self.channels:
            self.queues[channel.name] = asyncio.Queue()
            for _ in range(self.alerts.channel_concurrency):
                tasks.append(asyncio.create_task(self._channel_loop(channel)))
        return tasks

    async def _channel_loop(self, channel: Channel) -> None:
        queue = self.queues[channel.name]
        while True:
            alert = await queue.get()
            await self._deliver(channel, alert)
            for tp, offset in self.waiting.pop((alert["alert_id"], channel.name), []):
                offsets = self.open[tp]
                offsets[offset] -= 1
                if not offsets[offset]:
                    del offsets[offset]

    async def _deliver(self, channel: Channel, alert: dict[str, Any]) -> None:
        alert_id, name, tenant = alert["alert_id"], channel.name, alert["tenant"]
        raw_keys = self.log.business_keys(tenant, alert["customer_ids"])
        payload = with_keys(alert, raw_keys)

        def out_of_attempts(_state) -> bool:
            delivery = self.log.delivery(alert_id, name)
            return delivery is not None and delivery.attempts >= self.alerts.max_attempts

        retrying = AsyncRetrying(
            stop=out_of_attempts,
            wait=wait_exponential(
                multiplier=self.alerts.backoff_initial_seconds,
                max=self.alerts.backoff_max_seconds,
            ),
            retry=retry_if_exception(lambda exc: getattr(exc, "retryable", False)),
            reraise=True,
        )
        status, error = DELIVERED, None
        try:
            async for attempt in retrying:
                with attempt:
                    await self._attempt(channel, payload)
        except DeliveryError as exc:
            status, error = FAILED, exc.summary
        finished = _now()
        created = parse_time(alert["created_at"])
        latency = (finished - created).total_seconds() if created else None
        self.log.finish(alert_id, name, status, error, rfc3339(finished), latency)
        self.metrics.outcomes.labels(name, status).inc()
        if status == DELIVERED and latency is not None:
            self.metrics.latency.labels(name).observe(latency)
        if status == DELIVERED:
            self.counts.delivered += 1
            log.info("%s delivered to %s", alert_id, name)
        else:
            self.counts.failed += 1
            log.error("%s failed on %s: %s", alert_id, name, error)

    async def _attempt(self, channel: Channel, payload: dict[str, Any]) -> None:
        alert_id, name = payload["alert_id"], channel.name
        attempts = self.log.attempt(alert_id, name, payload["tenant"], rfc3339(_now()))
        try:
            await channel.send(payload)
        except DeliveryError as exc:
            self.log.attempt_failed(alert_id, name, exc.summary)
            self.metrics.failed_attempts.labels(name).inc()
            log.warning("%s to %s, attempt %d: %s", alert_id, name, attempts, exc.summary)
            raise
        except Exception as exc:  # a fault of ours must not stop the channel: count it, retry
            summary = f"internal error: {type(exc).__name__}"
            self.log.attempt_failed(alert_id, name, summary)
            self.metrics.failed_attempts.labels(name).inc()
            log.exception("%s to %s, attempt %d", alert_id, name, attempts)
            raise DeliveryError(summary, retryable=True) from exc

    async def _dead_letter(self, producer: AIOKafkaProducer) -> None:
        """Publish the dead letters of records that are not alerts, as the stream does for
        raw events: redacted for analysts, with the bytes for operators (docs/streams.md)."""
        while self.dead:
            tp, offset, key, records = self.dead[0]
            try:
                for topic, record in (
                    (self.topics.dead_letters, records.analyst),
                    (self.topics.dead_letters_raw, records.operator),
                ):
                    await producer.send_and_wait(topic, key=key, value=orjson.dumps(record))
            except KafkaError as exc:
                log.warning("publishing a dead letter failed (%s); retrying", exc)
                return
            self.dead.pop(0)
            del self.open[tp][offset]

    # -- outcomes for the warehouse ---------------------------------------------------------

    async def _publish(self, producer: AIOKafkaProducer) -> None:
        outcomes = self.log.unpublished()
        if not outcomes:
            return
        try:
            sent = [
                await producer.send(
                    self.topics.alert_deliveries,
                    key=f"{d.alert_id}|{d.channel}".encode(),
                    value=orjson.dumps(d.record()),
                )
                for d in outcomes
            ]
            await asyncio.gather(*sent)
        except KafkaError as exc:  # published again on the next loop (int_* keeps one)
            log.warning("publishing %d delivery outcomes failed (%s)", len(outcomes), exc)
            return
        self.log.mark_published(outcomes)


def lock_delivery_log(log_path: Path) -> int:
    """An exclusive lock on the delivery log, held while the worker runs (or an erasure
    changes the log: orchestration.erasure); close the descriptor to release it."""
    log_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = f"{log_path}.lock"
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise WorkerRunning(
            f"another delivery worker uses {log_path} (one worker per delivery log)"
        ) from None
    return fd
