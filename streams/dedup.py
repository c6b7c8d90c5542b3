"""At least once in, exactly once out: drop events whose ``event_id`` was already seen.

State is an explicit ``MutableMapping`` so that a Faust table (RocksDB + changelog) can back it.
Ids are kept in buckets, one per routing key (``schemas.routing``: the contact, the agent, ...),
``bucket -> {event_id: expiry}``: a batch then writes each bucket it touched once, so the state
costs one changelog message per contact and batch rather than one per event. An in-memory heap
of (expiry, bucket, event_id) orders the expiries, so that forgetting old ids costs O(log n) per
id, never a scan of the table.

An id is remembered until the event clock (the largest event time seen) passes
``max(ts, clock when it arrived) + lateness``: a retry of an on-time event is caught for as long
as the event itself is within the lateness, and a retry of a late event for a lateness' worth of
event-time progress after its first copy. Memory is therefore about lateness x event rate.
"""

from __future__ import annotations

import heapq
from collections.abc import MutableMapping
from typing import Any

from schemas.routing import routing_key
from streams.clock import EventClock


class Deduplicator:
    __slots__ = ("_expiries", "clock", "store")

    def __init__(
        self, store: MutableMapping[str, dict[str, float]], lateness_seconds: float
    ) -> None:
        self.store = store
        self.clock = EventClock(lateness_seconds)
        self._expiries: list[tuple[float, str, str]] = []
        self.reload()

    def reload(self) -> None:
        """Rebuild the expiry index and the clock from the store (after a restart or a table
        recovery): the latest expiry is exactly the clock at the last insertion + lateness."""
        self._expiries = [
            (expiry, bucket, event_id)
            for bucket, ids in self.store.items()
            for event_id, expiry in ids.items()
        ]
        heapq.heapify(self._expiries)
        if self._expiries:
            latest = max(expiry for expiry, _, _ in self._expiries)
            self.clock.observe(latest - self.clock.lateness)

    def is_new(self, bucket: str, event_id: str, ts: float) -> bool:
        """True the first time ``event_id`` is seen in ``bucket`` (and remember it), False for a
        duplicate. Duplicates share their routing key, hence their bucket."""
        ids = self.store.get(bucket)
        if ids is None:
            ids = {}
        elif event_id in ids:
            return False
        self.clock.observe(ts)
        expiry = self.clock.now + self.clock.lateness
        ids[event_id] = expiry
        self.store[bucket] = ids
        heapq.heappush(self._expiries, (expiry, bucket, event_id))
        return True

    def filter_new(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The events of a batch seen for the first time (duplicates inside the batch too)."""
        new = [e for e in events if self.is_new(routing_key(e), e["event_id"], e["ts"])]
        self.expire()
        return new

    def expire(self) -> int:
        """Forget the ids whose expiry the clock has passed; returns how many."""
        expiries, store, now = self._expiries, self.store, self.clock.now
        emptied: dict[str, dict[str, float]] = {}
        forgotten = 0
        while expiries and expiries[0][0] < now:
            expiry, bucket, event_id = heapq.heappop(expiries)
            ids = emptied.get(bucket)
            if ids is None:  # not `or`: a bucket emptied earlier in this pass is an empty dict
                ids = store.get(bucket)
            if ids is not None and ids.get(event_id) == expiry:
                del ids[event_id]
                emptied[bucket] = ids
                forgotten += 1
        for bucket, ids in emptied.items():
            if ids:
                store[bucket] = ids
            else:
                del store[bucket]
        return forgotten
