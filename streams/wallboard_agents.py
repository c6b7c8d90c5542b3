"""The wallboard's two batch agents: they move whole fetches between Kafka and
``streams.wallboard``.

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

from collections.abc import Callable
from typing import Any, Protocol

import faust
import orjson

from schemas.settings import Settings
from schemas.topics import topic_names
from streams.agents import _RAW, Outputs, _anchor, _table, _write_state
from streams.batches import Batch, BatchingApp
from streams.tables import JsonTable, PartitionView, WriteBehind, as_current
from streams.wallboard import AlertTally, Produced, WallboardKnobs, WallboardStage


class _Stage(Protocol):
    def process(self, items: list[dict[str, Any]]) -> list[Produced]: ...


def wire_wallboard(app: BatchingApp, settings: Settings, outputs: Outputs) -> None:
    names = topic_names(settings)
    partitions = settings.topics.partitions
    knobs = WallboardKnobs(settings)
    sources = (
        (names.events, "wallboard-state", WallboardStage),
        (names.alerts, "wallboard-alerts", AlertTally),
    )
    for topic_name, table_name, stage_class in sources:
        table = _table(app, table_name, partitions)
        _wire_agent(
            app,
            settings,
            outputs,
            app.topic(topic_name, **_RAW),
            table,
            lambda store, p, cls=stage_class: cls(knobs, store, p),
        )


def _wire_agent(
    app: BatchingApp,
    settings: Settings,
    outputs: Outputs,
    topic: faust.TopicT,
    table: JsonTable,
    new_stage: Callable[[WriteBehind, int], _Stage],
) -> None:
    """A batch agent (``streams.batches``) on ``topic``: every valid event goes through the
    wallboard, so Faust's per-message delivery would cost more than the wallboard's own work
    (docs/performance.md)."""
    wallboard_topic = topic_names(settings).wallboard
    (source,) = topic.topics
    stages: dict[int, tuple[_Stage, WriteBehind]] = {}

    @app.on_partitions_revoked.connect
    async def forget_revoked(sender: faust.App, revoked: set, **kwargs: object) -> None:
        # A partition that comes back is rebuilt from its recovered table, not a stale index.
        for tp in revoked:
            if tp.topic == source:
                stages.pop(tp.partition, None)

    async def fold(batch: Batch) -> None:
        produced: list[Produced] = []
        written = []
        for tp, messages in batch.items():
            anchor = _anchor(app, messages[0])
            as_current(anchor)  # table writes go to this partition
            if tp.partition not in stages:
                state = WriteBehind(PartitionView(table, tp.partition))
                stages[tp.partition] = (new_stage(state, tp.partition), state)
            stage, state = stages[tp.partition]
            items = [_decoded(m.value) for m in messages]
            produced += stage.process([item for item in items if item is not None])
            written.append((anchor, (state,)))
        await outputs.send({wallboard_topic: produced})
        await _write_state(outputs, written, (table,))

    app.batch_agent(topic)(fold)


def _decoded(value: bytes | None) -> dict[str, Any] | None:
    """A record of the stream's own output topics; None for anything else (a tombstone, bytes
    some other producer wrote there): skipped, as no single message may stop a partition."""
    try:
        record = orjson.loads(value) if value else None
    except orjson.JSONDecodeError:
        return None
    return record if isinstance(record, dict) else None
