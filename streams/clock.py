"""Event-time clock: the only notion of "now" the stream logic has (never the wall clock).

``now`` is the largest event time seen so far; the **watermark** trails it by the configured
lateness (settings.stream.lateness_seconds): events older than the watermark are later than the
contract promises to wait for. Idle timeouts and de-duplication expiry are decided against it,
so replaying a day of events gives the same results in minutes as it did live.
"""

from __future__ import annotations

import math
from collections.abc import Iterable


class EventClock:
    __slots__ = ("lateness", "now")

    def __init__(self, lateness_seconds: float, now: float = -math.inf) -> None:
        self.lateness = lateness_seconds
        self.now = now

    def observe(self, ts: float) -> None:
        if ts > self.now:
            self.now = ts

    def observe_all(self, events: Iterable[dict]) -> None:
        """Advance to the latest ``ts`` of a batch of canonical events."""
        latest = max((e["ts"] for e in events), default=-math.inf)
        if latest > self.now:
            self.now = latest

    @property
    def watermark(self) -> float:
        return self.now - self.lateness
