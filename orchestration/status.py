"""What ``omnicx status`` shows: the deployment at a glance, each part asked where it lives.

- broker: the local broker's process and whether the bootstrap servers answer;
- services: what supervisord runs for ``omnicx up`` (``orchestration.services``), and the
  members Kafka sees in the stream's and the sink's consumer groups, and the alert delivery's
  when a channel is configured (workers started elsewhere count there too);
- lag: messages each consumer group has not committed yet, per topic (``omnicx lag``);
- last landed: the newest Parquet file the sink wrote in the lake;
- warehouse freshness: the newest ``occurred_at`` analysts can query (``int_events``);
- last refresh: the newest run of the Dagster ``refresh`` job, its result and failed checks;
- dead letters today: messages the stream rejected since midnight UTC (the dead-letter
  topic's messages appended since then).

Each part that cannot be asked (no broker, no warehouse yet) is ``None`` and shown as such; the
others are still shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from pathlib import Path

from kafka import TopicPartition
from kafka.errors import KafkaError
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_fixed

from orchestration.kafka.broker import BrokerStatus, LocalBroker
from orchestration.services import Services, ServiceState, dagster_url
from pipelines.kafka_io import KafkaUnavailable, admin_client, consumer
from schemas.settings import Settings
from schemas.topics import topic_names


@dataclass(frozen=True)
class GroupLag:
    group: str
    stage: str  # stream | sink
    members: int
    lag: dict[str, int]  # topic -> messages not yet committed


@dataclass(frozen=True)
class CheckFailure:
    asset: str
    check: str


@dataclass(frozen=True)
class RefreshRun:
    run_id: str
    status: str  # Dagster's: SUCCESS, FAILURE, STARTED ...
    started: datetime | None
    ended: datetime | None
    failed_checks: list[CheckFailure]


@dataclass(frozen=True)
class Status:
    bootstrap: str
    local_broker: BrokerStatus | None  # None: a cluster is configured
    broker_answers: bool
    services: list[ServiceState]
    dagster_url: str | None  # when the webserver is one of the services
    groups: list[GroupLag] = field(default_factory=list)
    last_landed: datetime | None = None
    newest_event: datetime | None = None
    last_refresh: RefreshRun | None = None
    dead_letters_today: int | None = None
    day_start: datetime | None = None
    kafka_error: str | None = None  # why the groups or the dead letters could not be read
    # tenant -> (retention days, first kept day published; None: not applied yet)
    retention: dict[str, tuple[int, date | None]] = field(default_factory=dict)


def gather(settings: Settings, now: datetime) -> Status:
    """The status of the deployment of ``settings``; "today" is ``now``'s UTC day."""
    from orchestration.kafka.lag import consumer_lag, stage_consumers
    from orchestration.retention import retention_status
    from pipelines.kafka_io import broker_answers

    local = None if settings.kafka.bootstrap_servers else LocalBroker(settings).status()
    answers = broker_answers(settings, 2.0)
    services = Services(settings).states()
    web = any(s.name == "dagster-webserver" for s in services)
    day_start = datetime.combine(now.astimezone(UTC).date(), time(), UTC)
    status = Status(
        bootstrap=settings.kafka.bootstrap,
        local_broker=local,
        broker_answers=answers,
        services=services,
        dagster_url=dagster_url(settings) if web else None,
        last_landed=last_landed(settings.lake_dir),
        newest_event=newest_event(settings),
        last_refresh=last_refresh(settings.dagster_home),
        day_start=day_start,
        retention=retention_status(settings),
    )
    if not answers:
        return status
    groups = []
    try:
        delivery = ("alerts",) if settings.alerts.channels_configured else ()
        for stage in ("stream", "sink", *delivery):
            group, topics = stage_consumers(settings, stage)
            groups.append(
                GroupLag(
                    group, stage, _members(settings, group), consumer_lag(settings, group, topics)
                )
            )
        dead = dead_letters_since(settings, day_start)
    except (KafkaUnavailable, KafkaError) as exc:
        return replace(status, kafka_error=f"{type(exc).__name__}: {exc}")
    return replace(status, groups=groups, dead_letters_today=dead)


def _members(settings: Settings, group: str) -> int:
    """The members of a consumer group (0 when it has none or does not exist)."""
    # The group coordinator is not available for a moment after a broker's first start (the
    # offsets topic is being created): that error is retriable, within the request timeout.
    retrying = Retrying(
        retry=retry_if_exception(_coordinator_not_ready),
        stop=stop_after_delay(settings.kafka.request_timeout_seconds),
        wait=wait_fixed(0.2),
        reraise=True,
    )
    with admin_client(settings) as admin:
        (described,) = retrying(admin.describe_consumer_groups, [group])
    return len(described.members)  # a group that does not exist is described as Dead, empty


def _coordinator_not_ready(exc: BaseException) -> bool:
    """Whether describing a group failed for want of a ready group coordinator: a retriable
    Kafka error, or kafka-python 2.3 failing to read the response that carries it (it decodes
    the response's authorized operations before its error code, and an error response has
    -2**31 there: "31 is not a valid ACLOperation")."""
    if isinstance(exc, KafkaError):
        return exc.retriable
    return isinstance(exc, ValueError) and "ACLOperation" in str(exc)


def dead_letters_since(settings: Settings, since: datetime) -> int:
    """Messages appended to the dead-letter topic at or after ``since``."""
    topic = topic_names(settings).dead_letters
    reader = consumer(settings)
    try:
        partitions = [TopicPartition(topic, p) for p in reader.partitions_for_topic(topic) or ()]
        ends = reader.end_offsets(partitions)
        at = reader.offsets_for_times({tp: int(since.timestamp() * 1000) for tp in partitions})
    finally:
        reader.close()
    return sum(ends[tp] - found.offset for tp, found in at.items() if found is not None)


def last_landed(lake_dir: Path) -> datetime | None:
    """When the sink last wrote a file in the lake."""
    from orchestration.automation import landed_since

    newest, days = landed_since(lake_dir, 0.0)
    return datetime.fromtimestamp(newest, UTC) if days else None


def newest_event(settings: Settings) -> datetime | None:
    """The newest event time analysts can query (``int_events`` of the published warehouse)."""
    import duckdb

    from warehouse.build import WarehouseMissing, connect_read_only

    try:
        with connect_read_only(settings) as con:
            row = con.execute("select max(occurred_at) from int_events").fetchone()
    except (WarehouseMissing, duckdb.Error):
        return None
    newest = row[0] if row else None
    if newest is None:
        return None
    return newest.astimezone(UTC) if newest.tzinfo else newest.replace(tzinfo=UTC)


def last_refresh(dagster_home: Path) -> RefreshRun | None:
    """The newest run of the ``refresh`` job in the instance ``omnicx refresh`` and the
    Dagster daemon record runs in, with the checks that failed in it."""
    if not dagster_home.is_dir():
        return None
    from dagster import DagsterEventType, DagsterInstance, RunsFilter
    from dagster._core.instance.ref import InstanceRef

    with DagsterInstance.from_ref(InstanceRef.from_dir(str(dagster_home))) as instance:
        records = instance.get_run_records(filters=RunsFilter(job_name="refresh"), limit=1)
        if not records:
            return None
        record = records[0]
        evaluations = instance.get_records_for_run(
            record.dagster_run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
        ).records
        failed = []
        for entry in evaluations:
            evaluation = entry.event_log_entry.dagster_event.event_specific_data
            if not evaluation.passed:
                failed.append(
                    CheckFailure(evaluation.asset_key.to_user_string(), evaluation.check_name)
                )
    return RefreshRun(
        run_id=record.dagster_run.run_id,
        status=record.dagster_run.status.value,
        started=_utc(record.start_time),
        ended=_utc(record.end_time),
        failed_checks=failed,
    )


def _utc(timestamp: float | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC)
