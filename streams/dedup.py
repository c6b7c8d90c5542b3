"""At least once in, exactly once out: drop events whose ``event_id`` was already seen.

State is an explicit ``MutableMapping`` event_id -> expiry (event-time epoch seconds), so a
Faust table (RocksDB + changelog) can back it; an in-memory heap of (expiry, event_id) orders
the expiries so that forgetting old ids costs O(log n) per id, never a scan of the table.

An id is remembered until the event clock (the largest event time seen) passes
``max(ts, clock when it arrived) + lateness``: a retry of an on-time event is caught for as long
as the event itself is within the lateness, and a retry of a late event for a lateness' worth of
event-time progress after its first copy. Memory is therefore about lateness x event rate.
"""

from __future__ import annotations

import heapq
from collections.abc import MutableMapping
from typing import Any

from streams.clock import EventClock


class Deduplicator:
    __slots__ = ("_expiries", "clock", "store")

    def __init__(self, store: MutableMapping[str, float], lateness_seconds: float) -> None:
        self.store = store
        self.clock = EventClock(lateness_seconds)
        self._expiries: list[tuple[float, str]] = []
        self.reload()

    def reload(self) -> None:
        """Rebuild the expiry index and the clock from the store (after a restart or a table
        recovery): the latest expiry is exactly the clock at the last insertion + lateness."""
        self._expiries = [(expiry, event_id) for event_id, expiry in self.store.items()]
        heapq.heapify(self._expiries)
        if self._expiries:
            latest = max(expiry for expiry, _ in self._expiries)
            self.clock.observe(latest - self.clock.lateness)

    def is_new(self, event_id: str, ts: float) -> bool:
        """True the first time ``event_id`` is seen (and remember it), False for a duplicate."""
        if event_id in self.store:
            return False
        self.clock.observe(ts)
        expiry = self.clock.now + self.clock.lateness
        self.store[event_id] = expiry
        heapq.heappush(self._expiries, (expiry, event_id))
        return True

    def filter_new(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The events of a batch seen for the first time (duplicates inside the batch too)."""
        new = [e for e in events if self.is_new(e["event_id"], e["ts"])]
        self.expire()
        return new

    def expire(self) -> int:
        """Forget the ids whose expiry the clock has passed; returns how many."""
        expiries, store, now = self._expiries, self.store, self.clock.now
        forgotten = 0
        while expiries and expiries[0][0] < now:
            expiry, event_id = heapq.heappop(expiries)
            if store.get(event_id) == expiry:
                del store[event_id]
                forgotten += 1
        return forgotten
