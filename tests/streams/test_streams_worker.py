"""The stream worker's log filter (``streams.worker.OncePerInterval``), with a pinned clock."""

import logging

from streams.worker import OncePerInterval


def record(msg: str, *args: object, name: str = "aiokafka.conn") -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, None)


def test_one_record_of_a_kind_per_interval_then_a_count_of_the_held_back():
    now = [0.0]
    once = OncePerInterval(30.0, clock=lambda: now[0])
    passed = []
    for second in range(0, 61):  # an attempt a second, as a client without its broker does
        now[0] = float(second)
        failure = record("Unable connect to node with id %s: %r", 1, OSError(111))
        if once.filter(failure):
            passed.append((second, failure.getMessage()))

    assert [second for second, _ in passed] == [0, 30, 60]
    assert passed[0][1] == "Unable connect to node with id 1: OSError(111)"
    assert passed[1][1].endswith("OSError(111) [29 more like it held back]")


def test_kinds_are_counted_apart_by_logger_and_template():
    once = OncePerInterval(30.0, clock=lambda: 0.0)
    assert once.filter(record("Unable connect to %s", "a"))
    assert not once.filter(record("Unable connect to %s", "b"))
    assert once.filter(record("Heartbeat failed: %s", "x"))
    assert once.filter(record("Unable connect to %s", "a", name="faust.transport"))
