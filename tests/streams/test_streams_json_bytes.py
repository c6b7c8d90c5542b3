"""The stream's JSON encoding: orjson's output, held in no more memory than it needs."""

import tracemalloc

import orjson

from streams.json_bytes import json_bytes

RECORD = {
    "tenant": "acme-telecom",
    "identifier": "phone:3f9c2a",
    "customer_key": "customer_id:8d1e",
    "version": 3,
    "evidence": {"identifiers": ["phone:3f9c2a", "email:77ab01"], "event_id": "ev-1"},
}


def test_the_bytes_are_orjsons():
    assert json_bytes(RECORD) == orjson.dumps(RECORD)
    assert orjson.loads(json_bytes(RECORD)) == RECORD


def test_a_thousand_records_hold_about_their_own_size():
    size = len(orjson.dumps(RECORD))  # about 200 bytes
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        held = [json_bytes(RECORD) for _ in range(1000)]
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # A bytes object's header is 33 bytes; the list adds 8 a record. orjson's own bytes would
    # hold at least 4 KiB each (4 MB here).
    assert len(held) == 1000
    assert used < 1000 * (size + 33 + 8 + 64)
