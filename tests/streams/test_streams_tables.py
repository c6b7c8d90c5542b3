"""The table adapters of the Faust wiring, over plain dicts (no app, no broker).

``JsonTable`` only needs the local store of the table it wraps (``table.data``: ``get``, item
access, ``in``, iteration, ``items``), so a dict of bytes stands in for it here; the agent tests
run it over real (in-memory) Faust tables.
"""

import contextvars
from types import SimpleNamespace

import faust
import pytest
from faust.streams import current_event

from streams.tables import JsonTable, PartitionView, as_current


def test_json_table_stores_bytes_and_reads_json_values():
    raw: dict[bytes, bytes] = {}
    table = JsonTable(SimpleNamespace(data=raw))
    table["c1"] = {"events": [[1, 0, "e1", None]], "closed": False}
    table["e1"] = 1767603600.5
    assert raw == {
        b"c1": b'{"events":[[1,0,"e1",null]],"closed":false}',
        b"e1": b"1767603600.5",
    }
    assert table["c1"] == {"events": [[1, 0, "e1", None]], "closed": False}
    assert table.get("e1") == 1767603600.5
    assert table.get("missing", "default") == "default"
    with pytest.raises(KeyError):
        table["missing"]
    assert "c1" in table and "missing" not in table
    assert b"c1" not in table  # keys are str on this side
    assert sorted(table) == ["c1", "e1"]
    assert dict(table.items()) == {"c1": table["c1"], "e1": 1767603600.5}
    assert len(table) == 2
    del table["c1"]
    assert list(raw) == [b"e1"]
    # Every write is queued for the changelog, in order, a delete as a tombstone.
    assert table.take_changelog() == {
        0: [
            (b"c1", b'{"events":[[1,0,"e1",null]],"closed":false}'),
            (b"e1", b"1767603600.5"),
            (b"c1", None),
        ]
    }
    assert table.take_changelog() == {}


def test_partition_views_of_one_table_never_see_each_others_keys():
    raw: dict[bytes, bytes] = {}
    table = JsonTable(SimpleNamespace(data=raw))
    zero, one, eleven = (PartitionView(table, p) for p in (0, 1, 11))
    zero["c1"] = "state of c1 on partition 0"
    one["c1"] = "state of c1 on partition 1"
    one["c2"] = "only on partition 1"
    eleven["c3"] = "partition 11, whose prefix starts like partition 1's"

    assert sorted(raw) == [b"0/c1", b"1/c1", b"1/c2", b"11/c3"]
    assert zero["c1"] == "state of c1 on partition 0"
    assert one.get("c1") == "state of c1 on partition 1"
    assert "c2" in one and "c2" not in zero
    assert zero.get("c2") is None
    with pytest.raises(KeyError):
        zero["c2"]
    assert dict(one.items()) == {"c1": "state of c1 on partition 1", "c2": "only on partition 1"}
    assert sorted(one) == ["c1", "c2"]
    assert (len(zero), len(one), len(eleven)) == (1, 2, 1)
    assert dict(eleven.items()) == {"c3": "partition 11, whose prefix starts like partition 1's"}
    # Their changelog records go to their own partitions.
    assert {p: [k for k, _ in records] for p, records in table.take_changelog().items()} == {
        0: [b"0/c1"],
        1: [b"1/c1", b"1/c2"],
        11: [b"11/c3"],
    }

    del one["c1"]
    assert zero["c1"] == "state of c1 on partition 0"
    assert sorted(raw) == [b"0/c1", b"1/c2", b"11/c3"]


class _Event:
    """Stands in for a Faust event: ``as_current`` only keeps a weak reference to it."""


def test_as_current_makes_the_event_current_for_table_writes():
    app = faust.App("test-tables", store="memory://")
    stream = app.stream(app.channel())
    first, second = _Event(), _Event()

    def run() -> list:
        seen = [current_event()]
        as_current(first)
        seen += [current_event(), stream.current_event]
        as_current(second)
        seen += [current_event(), stream.current_event]
        return seen

    # A context of its own, so the current event does not leak into other tests.
    seen = contextvars.copy_context().run(run)
    assert seen[0] is None
    assert seen[1] is first and seen[3] is second
    # The stream's own attribute is left alone: take_events reads it for the next message.
    assert seen[2] is None and seen[4] is None
