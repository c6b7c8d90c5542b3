"""The wallboard's two agents: they move batches between Kafka and ``streams.wallboard``.

- ``wallboard`` on ``events`` (N partitions): one :class:`WallboardStage` per partition, its state
  in the ``wallboard-state`` table (co-partitioned with ``events``, keys prefixed by partition);
- ``wallboard-alerts`` on ``alerts`` (N partitions): one :class:`AlertTally` per partition, in
  ``wallboard-alerts``.

Both publish their tenants' snapshots on the compacted ``wallboard`` topic, and write their
state only once those are acknowledged, in the same order as the other stages (outputs, then
state, then offsets; docs/streams.md, Hard kills): a kill replays the batch, whose events the
state absorbs (a contact ignores an event id it holds, an alert id counts once).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any, Protocol

import faust
import orjson
from faust.types import EventT, StreamT

from schemas.settings import Settings
from schemas.topics import topic_names
from streams.agents import _RAW, Outputs, _table, _write_state
from streams.tables import JsonTable, PartitionView, WriteBehind, as_current
from streams.wallboard import AlertTally, Produced, WallboardKnobs, WallboardStage


class _Stage(Protocol):
    def process(self, items: list[dict[str, Any]]) -> list[Produced]: ...


def wire_wallboard(app: faust.App, settings: Settings, outputs: Outputs) -> None:
    names = topic_names(settings)
    partitions = settings.topics.partitions
    knobs = WallboardKnobs(settings)
    sources = (
        ("wallboard", names.events, "wallboard-state", WallboardStage),
        ("wallboard-alerts", names.alerts, "wallboard-alerts", AlertTally),
    )
    for agent_name, topic_name, table_name, stage_class in sources:
        table = _table(app, table_name, partitions)
        _wire_agent(
            app,
            settings,
            outputs,
            agent_name,
            app.topic(topic_name, **_RAW),
            table,
            lambda store, p, cls=stage_class: cls(knobs, store, p),
        )


def _wire_agent(
    app: faust.App,
    settings: Settings,
    outputs: Outputs,
    name: str,
    topic: faust.TopicT,
    table: JsonTable,
    new_stage: Callable[[WriteBehind, int], _Stage],
) -> None:
    wallboard_topic = topic_names(settings).wallboard
    (source,) = topic.topics
    stages: dict[int, tuple[_Stage, WriteBehind]] = {}

    @app.on_partitions_revoked.connect
    async def forget_revoked(sender: faust.App, revoked: set, **kwargs: object) -> None:
        # A partition that comes back is rebuilt from its recovered table, not a stale index.
        for tp in revoked:
            if tp.topic == source:
                stages.pop(tp.partition, None)

    async def fold(stream: StreamT) -> None:
        async for events in stream.take_events(
            settings.stream.batch_size, within=settings.stream.batch_seconds
        ):
            by_partition: dict[int, list[EventT]] = defaultdict(list)
            for event in events:
                by_partition[event.message.partition].append(event)
            produced: list[Produced] = []
            written = []
            for partition, part_events in by_partition.items():
                as_current(part_events[0])  # table writes go to this partition
                if partition not in stages:
                    state = WriteBehind(PartitionView(table, partition))
                    stages[partition] = (new_stage(state, partition), state)
                stage, state = stages[partition]
                items = [_decoded(e.message.value) for e in part_events]
                produced += stage.process([item for item in items if item is not None])
                written.append((part_events[0], (state,)))
            await outputs.send({wallboard_topic: produced})
            await _write_state(outputs, written, (table,))

    app.agent(topic, name=name)(fold)


def _decoded(value: bytes | None) -> dict[str, Any] | None:
    """A record of the stream's own output topics; None for anything else (a tombstone, bytes
    some other producer wrote there): skipped, as no single message may stop a partition."""
    try:
        record = orjson.loads(value) if value else None
    except orjson.JSONDecodeError:
        return None
    return record if isinstance(record, dict) else None
