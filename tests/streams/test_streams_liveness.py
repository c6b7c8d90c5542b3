"""The stall watch of a stream worker (streams.liveness): a partition with records waiting whose
read progress has not moved for the stall time is reported; anything else is not."""

from __future__ import annotations

from streams.liveness import StallWatch


def test_a_partition_with_a_backlog_that_does_not_move_is_stalled_after_the_stall_time():
    watch = StallWatch(stall_seconds=30)
    assert watch.observe(0, {"events-2": (100, True)}) == []
    assert watch.observe(29.9, {"events-2": (100, True)}) == []
    assert watch.observe(30, {"events-2": (100, True)}) == ["events-2"]


def test_progress_or_an_empty_backlog_restarts_the_clock():
    watch = StallWatch(stall_seconds=30)
    watch.observe(0, {"a": (100, True), "b": (5, False)})
    assert watch.observe(25, {"a": (101, True), "b": (5, False)}) == []  # "a" read one more
    assert watch.observe(50, {"a": (101, True), "b": (5, True)}) == []  # 25 s; "b" just began
    assert watch.observe(55, {"a": (101, True), "b": (5, True)}) == ["a"]
    # caught up: nothing waits, so not stalled however long it stays there
    assert watch.observe(500, {"a": (900, False), "b": (9, False)}) == []
    assert watch.observe(900, {"a": (900, False), "b": (9, False)}) == []


def test_unknown_backlogs_and_revoked_partitions_are_not_judged():
    watch = StallWatch(stall_seconds=30)
    watch.observe(0, {"a": (1, None), "c": (1, True)})
    # "c" was revoked (a rebalance, a recovery: nothing observed), then came back: afresh
    assert watch.observe(40, {}) == []
    assert watch.observe(45, {"a": (1, None), "c": (1, True)}) == []
    assert watch.observe(74, {"a": (1, None), "c": (1, True)}) == []
    assert watch.observe(75, {"a": (1, None), "c": (1, True)}) == ["c"]
