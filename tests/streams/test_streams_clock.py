"""The event clock and the bound that keeps one far-future event from stopping it."""

import math

from schemas.times import parse_rfc3339
from streams.clock import EventClock, too_far_ahead

T0 = parse_rfc3339("2026-01-05T09:00:00Z")
FAR_FUTURE = parse_rfc3339("9999-12-31T00:00:00Z")


def test_the_clock_only_moves_forward_and_the_watermark_trails_it() -> None:
    clock = EventClock(60)
    clock.observe(T0 + 10)
    clock.observe(T0)
    assert (clock.now, clock.watermark) == (T0 + 10, T0 - 50)


def test_too_far_ahead_is_judged_against_the_broker_time_else_the_clock() -> None:
    day = 86400
    appended = T0 + 10
    assert not too_far_ahead(appended + day, appended, -math.inf, day)
    assert too_far_ahead(appended + day + 0.001, appended, -math.inf, day)
    assert too_far_ahead(FAR_FUTURE, appended, T0, day)
    # The broker time wins over a clock already ahead (as a poisoned one would be).
    assert too_far_ahead(appended + 2 * day, appended, appended + 3 * day, day)
    # Without a broker time: the partition's clock, and nothing to judge on a fresh partition.
    assert too_far_ahead(FAR_FUTURE, None, T0, day)
    assert not too_far_ahead(T0 + day, None, T0, day)
    assert not too_far_ahead(FAR_FUTURE, None, -math.inf, day)
