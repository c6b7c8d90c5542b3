"""A worker that holds partitions with a backlog and stopped reading them exits, to be restarted.

Faust can leave a worker's partitions paused after a rebalance: it pauses every partition it is
assigned, and only its table recovery resumes them, and now and then (a second worker joining
mid-stream on a loaded machine: seen here, 1 run in 5 at a load of 10 on 2 cores; upstream:
faust-streaming issues #175 and #629) that recovery never runs for the new generation. The
worker then looks healthy (it heartbeats, keeps its partitions, logs nothing) while their
records wait for ever, and no other worker may take them. A restart is the cure, and a safe one
at any point (docs/streams.md, Hard kills): so the worker watches the fetch position of each
partition it is assigned, and when one with records waiting has not moved for
``stream.stall_seconds`` (longer than any rebalance can take: at least twice the session
timeout), it logs why and exits with ``STALLED_EXIT_STATUS``; its supervisor (``omnicx
stream``) starts a new one, which joins the group and recovers as any restart does.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Hashable
from dataclasses import dataclass, field
from time import monotonic

import faust
from aiokafka.errors import KafkaError

from schemas.settings import Settings

log = logging.getLogger("omnicx.stream")

STALLED_EXIT_STATUS = 75  # EX_TEMPFAIL: try again
CHECK_SECONDS = 5.0


@dataclass
class StallWatch:
    """When each partition's read progress last moved (or it had nothing to read). ``observe``
    is given every assigned partition at one instant; it returns those stalled for
    ``stall_seconds`` or more."""

    stall_seconds: float
    _since: dict[Hashable, tuple[Hashable, float]] = field(default_factory=dict)

    def observe(
        self, now: float, partitions: dict[Hashable, tuple[Hashable, bool | None]]
    ) -> list[Hashable]:
        """``partitions``: partition -> (its read progress: any value that changes when records
        are read, whether records wait to be read: None when unknown)."""
        since = self._since
        for tp in list(since):
            if tp not in partitions:  # revoked: it starts afresh if it comes back
                del since[tp]
        stalled = []
        for tp, (progress, waiting) in partitions.items():
            if not waiting:  # nothing waits, or nothing is known: not stalled
                since.pop(tp, None)
                continue
            last = since.get(tp)
            if last is None or last[0] != progress:
                since[tp] = (progress, now)
            elif now - last[1] >= self.stall_seconds:
                stalled.append(tp)
        return stalled


def watch_for_stalls(app: faust.App, settings: Settings) -> None:
    """Check the worker's source partitions every ``CHECK_SECONDS``; exit once one stalled."""
    watch = StallWatch(settings.stream.stall_seconds)

    @app.timer(CHECK_SECONDS)
    async def check_for_stalls() -> None:
        consumer = app.consumer
        partitions: dict[Hashable, tuple[Hashable, bool | None]] = {}
        if not app.in_recovery:  # restoring the tables reads no source partition, rightly
            changelogs = app.tables.changelog_topics
            sources = [tp for tp in consumer.assignment() if tp.topic not in changelogs]
            try:  # from the broker: a partition never fetched has no highwater in the client
                ends = await consumer.highwaters(*sources) if sources else {}
            except KafkaError:  # the broker is away: the supervisor sees to that
                ends = {}
            for tp in sources:
                read, committed = consumer._read_offset.get(tp), consumer._committed_offset.get(tp)
                next_to_read = committed if committed is not None else read
                end = ends.get(tp)
                waiting = None if end is None or next_to_read is None else end > next_to_read
                partitions[tp] = ((read, committed), waiting)
        stalled = watch.observe(monotonic(), partitions)
        if stalled:
            log.error(
                "partitions %s have records waiting and were not read for %.0f s (a rebalance "
                "left them paused): the worker exits to be restarted (docs/streams.md, Liveness)",
                ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(stalled)),
                settings.stream.stall_seconds,
            )
            logging.shutdown()
            os._exit(STALLED_EXIT_STATUS)  # a hard stop is safe: docs/streams.md, Hard kills
