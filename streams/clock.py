"""Event-time clock: the only notion of "now" the stream logic has (never the wall clock).

``now`` is the largest event time seen so far; the **watermark** trails it by the configured
lateness (settings.stream.lateness_seconds): events older than the watermark are later than the
contract promises to wait for. Idle timeouts and de-duplication expiry are decided against it,
so replaying a day of events gives the same results in minutes as it did live.

The clock only moves forward, so one event dated far ahead (9999-12-31) would stop it for good:
such an event never reaches it (:func:`too_far_ahead`, the ingest stage dead-letters it).
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


def too_far_ahead(
    ts: float, appended_at: float | None, clock_now: float, max_future_seconds: float
) -> bool:
    """True when an event time is more than ``max_future_seconds`` after its reference: the time
    the broker appended the message (``appended_at``, epoch seconds), else the partition's clock.

    Both are fixed once the message is in the log, so re-reading the topic decides the same way
    (the wall clock would not). With neither known (a fresh partition and no broker time) there
    is nothing to judge against and the event is accepted.
    """
    reference = appended_at if appended_at is not None and appended_at > 0 else clock_now
    return reference > -math.inf and ts > reference + max_future_seconds
