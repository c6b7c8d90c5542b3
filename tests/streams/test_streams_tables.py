"""The table adapters of the Faust wiring, over plain dicts (no app, no broker).

``JsonTable`` only needs the local store of the table it wraps (``table.data``: ``get``, item
access, ``in``, iteration, ``items``, ``set_persisted_offset``) and its changelog topic's name,
so a dict of bytes stands in for it here; the agent tests run it over real (in-memory) Faust
tables.
"""

import contextvars
from types import SimpleNamespace

import faust
import pytest
from faust.streams import current_event

from streams.tables import JsonTable, PartitionView, as_current


class LocalStore(dict):
    """A table's local store: bytes by key, and the changelog offset persisted per partition."""

    def __init__(self) -> None:
        super().__init__()
        self.offsets: dict[int, int] = {}

    def set_persisted_offset(self, tp, offset: int) -> None:
        self.offsets[tp.partition] = offset


def json_table(raw: LocalStore) -> JsonTable:
    changelog = SimpleNamespace(get_topic_name=lambda: "app-table-changelog")
    return JsonTable(SimpleNamespace(data=raw, changelog_topic=changelog))


def persist(table: JsonTable) -> dict[int, list]:
    """What the agents do with a table's writes: produce its changelog records and, once they
    are acknowledged, report each partition's last offset (here: the count of records - 1)."""
    records = table.take_changelog()
    for partition, changes in records.items():
        table.persisted(partition, len(changes) - 1)
    return records


def test_json_table_stores_bytes_and_reads_json_values():
    raw = LocalStore()
    table = json_table(raw)
    table["c1"] = {"events": [[1, 0, "e1", None]], "closed": False}
    table["e1"] = 1767603600.5
    # Every write is queued for the changelog, in order; the local store gets nothing before
    # the changelog has it.
    assert table.take_changelog() == {
        0: [(b"c1", b'{"events":[[1,0,"e1",null]],"closed":false}'), (b"e1", b"1767603600.5")]
    }
    assert raw == {} and table.get("c1") is None
    table.persisted(0, 41)
    assert raw == {
        b"c1": b'{"events":[[1,0,"e1",null]],"closed":false}',
        b"e1": b"1767603600.5",
    }
    assert raw.offsets == {0: 41}
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
    assert sorted(raw) == [b"c1", b"e1"]  # until the tombstone is acknowledged
    assert persist(table) == {0: [(b"c1", None)]}
    assert list(raw) == [b"e1"]
    with pytest.raises(KeyError):
        del table["missing"]
    assert table.take_changelog() == {}


def test_partition_views_of_one_table_never_see_each_others_keys():
    raw = LocalStore()
    table = json_table(raw)
    zero, one, eleven = (PartitionView(table, p) for p in (0, 1, 11))
    outbox = PartitionView(table, 1, namespace="outbox:")
    zero["c1"] = "state of c1 on partition 0"
    one["c1"] = "state of c1 on partition 1"
    one["c2"] = "only on partition 1"
    eleven["c3"] = "partition 11, whose prefix starts like partition 1's"
    outbox["records"] = "partition 1's outbox"
    records = persist(table)

    assert sorted(raw) == [b"0/c1", b"1/c1", b"1/c2", b"11/c3", b"outbox:1/records"]
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
    assert dict(outbox.items()) == {"records": "partition 1's outbox"}
    # Their changelog records go to their own partitions.
    assert {p: [k for k, _ in changes] for p, changes in records.items()} == {
        0: [b"0/c1"],
        1: [b"1/c1", b"1/c2", b"outbox:1/records"],
        11: [b"11/c3"],
    }

    del one["c1"]
    persist(table)
    assert zero["c1"] == "state of c1 on partition 0"
    assert sorted(raw) == [b"0/c1", b"1/c2", b"11/c3", b"outbox:1/records"]


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
