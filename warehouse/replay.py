"""Re-publishing dead letters (``omnicx replay-dead-letters``).

Once the cause of a rejection is fixed (a validator bug, a new event type, a corrected source),
the rejected messages are sent again, with their original bytes, to the raw-events topic, keyed
as every producer keys them (``pipelines.producer``). Analysts choose nothing here: the
dead letters to replay are chosen over the redacted ``stg_dead_letters``, and their bytes come
from the operators' ``dead-letters-raw`` topic (or, for a message too large to be kept there,
from the raw topic itself while its retention lasts).

Each copy carries its dead letter's id in a header (``streams.dead_letters``): valid events it
once rejected become events (an event_id seen before still counts once), and one that
fails again gets the same id, so the warehouse keeps one dead letter per message however often
it is replayed. :func:`outcome` then tells which replayed ids failed again.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson
from kafka import TopicPartition

from pipelines.kafka_io import consumer, producer
from pipelines.producer import message_key
from schemas.settings import Settings
from schemas.topics import topic_names
from streams.dead_letters import DEAD_LETTER_ID_HEADER
from warehouse.query import connect_analyst, run


@dataclass
class ReplayPlan:
    """What a replay would send: the bytes per dead-letter id, and the ids it cannot send."""

    messages: dict[str, bytes] = field(default_factory=dict)
    tombstones: list[str] = field(default_factory=list)  # nothing to send
    lost: list[str] = field(default_factory=list)  # bytes gone: past the raw topic's retention


def chosen_dead_letters(settings: Settings, where: str | None = None) -> list[str]:
    """The ids of the dead letters matching ``where`` (an SQL predicate over stg_dead_letters),
    once each, in the order they were first rejected.

    ``where`` is user SQL: it runs like analysts' SQL (``warehouse.query``), on a connection that
    reaches nothing but the warehouse and the lake, and only as a query."""
    predicate = f"({where})" if where else "true"
    with connect_analyst(settings) as con:
        result = run(
            con,
            f"""
            select dead_letter_id
            from stg_dead_letters
            where {predicate}
            group by dead_letter_id
            order by min(_kafka_timestamp), dead_letter_id
            """,
        )
    return [dead_letter_id for (dead_letter_id,) in result.rows]


def plan_replay(settings: Settings, where: str | None = None) -> ReplayPlan:
    wanted = chosen_dead_letters(settings, where)
    stored = {record["dead_letter_id"]: record for record in _operator_records(settings, wanted)}
    plan = ReplayPlan()
    for dead_letter_id in wanted:
        record = stored.get(dead_letter_id)
        if record is None:
            plan.lost.append(dead_letter_id)
        elif record["tombstone"]:
            plan.tombstones.append(dead_letter_id)
        elif record["raw_base64"] is not None:
            plan.messages[dead_letter_id] = base64.b64decode(record["raw_base64"])
        else:
            raw = _from_source(settings, record["topic"], record["partition"], record["offset"])
            if raw is None:
                plan.lost.append(dead_letter_id)
            else:
                plan.messages[dead_letter_id] = raw
    return plan


def send(settings: Settings, plan: ReplayPlan) -> dict[int, int]:
    """Send the plan's messages to raw-events, each with its dead-letter id in a header; returns
    the end offsets of the dead-letters topic from before the sends, for :func:`outcome`."""
    names = topic_names(settings)
    before = _end_offsets(settings, names.dead_letters)
    client = producer(settings, linger_ms=50, enable_idempotence=True)
    failures: list[BaseException] = []
    try:
        for dead_letter_id, raw in plan.messages.items():
            future = client.send(
                names.raw_events,
                value=raw,
                key=message_key(raw),
                headers=[(DEAD_LETTER_ID_HEADER, dead_letter_id.encode())],
            )
            future.add_errback(failures.append)
        client.flush()
    finally:
        client.close()
    if failures:
        raise RuntimeError(f"{len(failures)} dead letters were not re-published: {failures[0]!r}")
    return before


def outcome(settings: Settings, sent: Iterable[str], since: dict[int, int]) -> set[str]:
    """The ids among ``sent`` that the stream dead-lettered again after ``since`` (end offsets
    of the dead-letters topic before the replay). Call it once the stream has caught up."""
    sent = set(sent)
    failed: set[str] = set()
    for value in _read(settings, topic_names(settings).dead_letters, since):
        record = orjson.loads(value)
        if record.get("replayed") and record.get("dead_letter_id") in sent:
            failed.add(record["dead_letter_id"])
    return failed


def _operator_records(settings: Settings, wanted: list[str]) -> Iterable[dict]:
    ids = set(wanted)
    for value in _read(settings, topic_names(settings).dead_letters_raw):
        record = orjson.loads(value)
        if record["dead_letter_id"] in ids:  # the original or a failed replay: the same bytes
            yield record


def _end_offsets(settings: Settings, topic: str) -> dict[int, int]:
    reader = consumer(settings)
    try:
        partitions = [TopicPartition(topic, p) for p in reader.partitions_for_topic(topic)]
        return {tp.partition: end for tp, end in reader.end_offsets(partitions).items()}
    finally:
        reader.close()


def _read(settings: Settings, topic: str, since: dict[int, int] | None = None) -> Iterable[bytes]:
    """The values of a topic from ``since`` (partition -> offset; default the beginning) to its
    current end."""
    reader = consumer(settings)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(reader.partitions_for_topic(topic))]
        ends = reader.end_offsets(partitions)
        reader.assign(partitions)
        remaining = set()
        for tp in partitions:
            start = (since or {}).get(tp.partition)
            if start is None:
                reader.seek_to_beginning(tp)
            else:
                reader.seek(tp, start)
            if reader.position(tp) < ends[tp]:
                remaining.add(tp)
        while remaining:
            for tp, records in reader.poll(timeout_ms=1000).items():
                yield from (r.value for r in records if r.offset < ends[tp] and r.value)
                if reader.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        reader.close()


def _from_source(settings: Settings, topic: str, partition: int, offset: int) -> bytes | None:
    """The bytes at one offset of the raw topic, or None once retention deleted them."""
    reader = consumer(settings)
    try:
        tp = TopicPartition(topic, partition)
        reader.assign([tp])
        if reader.beginning_offsets([tp])[tp] > offset or reader.end_offsets([tp])[tp] <= offset:
            return None
        reader.seek(tp, offset)
        while True:
            for record in reader.poll(timeout_ms=1000, max_records=1).get(tp, []):
                if record.offset == offset:
                    return record.value
                if record.offset > offset:  # compacted or a transaction marker: not there
                    return None
    finally:
        reader.close()
