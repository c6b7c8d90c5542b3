"""Faust tables as plain ``MutableMapping``s of JSON values, writable from a batch.

The pure logic (``ContactFold``, ``Deduplicator``, ``IdentityGraph``, ``JourneyBook``) keeps its
state in any ``MutableMapping``; this adapter puts a Faust table (RocksDB + changelog topic)
behind it, with orjson for the values (Faust's own json codec is several times slower).

Batches and partitions. A Faust table decides the local RocksDB partition and the changelog
partition of a write from the *current event*, which a ``take_events`` batch does not set per
event ("Cannot modify table key from outside of stream iteration"). ``use_partitioner=True``
would silence that by hashing the table key instead, but the local store would still file the
value under the partition of whatever event is current, which loses it at the next rebalance.
So the stream sets the current event explicitly, one event at a time (``as_current``), and every
table write lands in the partition of the event that caused it: exactly the semantics of
per-event iteration, at batch speed. Tables are therefore co-partitioned with their source
topic, whatever their keys; what must hold instead is that all events of one contact arrive on
one partition, which ``streams.routing`` enforces by re-keying strays.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, MutableMapping
from typing import Any

import orjson
from faust.streams import _current_event, current_event
from faust.types import TP, EventT, TableT

from streams.json_bytes import json_bytes


class JsonTable(MutableMapping[str, Any]):
    """A Faust table with ``raw`` key and value serializers, seen as str -> JSON value.

    Writes are queued as changelog records (``take_changelog``), so that a batch's state reaches
    the changelog in one produce request per partition rather than one Faust send per key (that
    send path was the largest cost of the stream; docs/streams.md, Cost). The caller produces
    them, then reports the offset the last one got (``persisted``): only then do they reach the
    local store, followed by that offset, which is the bookkeeping Faust's own send would have
    done (a worker that restarts replays its changelog past it). So the local store is never
    ahead of the changelog: a worker killed before the acknowledgement restarts without the
    writes, like any worker that recovers the partition from the changelog, and one killed after
    it recovers them from the changelog. Nothing reads a table between a write and its
    acknowledgement: the stages read through ``WriteBehind``, flushed only to be persisted.
    """

    __slots__ = ("changelog", "sent", "table")

    def __init__(self, table: TableT) -> None:
        self.table = table
        self.changelog: dict[int, list[tuple[bytes, bytes | None]]] = {}
        self.sent: dict[int, list[tuple[bytes, bytes | None]]] = {}  # taken, not yet persisted

    def __getitem__(self, key: str) -> Any:
        raw = self.table.data.get(key.encode())
        if raw is None:
            raise KeyError(key)
        return orjson.loads(raw)

    def get(self, key: str, default: Any = None) -> Any:
        raw = self.table.data.get(key.encode())
        return default if raw is None else orjson.loads(raw)

    def __setitem__(self, key: str, value: Any) -> None:
        self.put(key, value, 0)

    def __delitem__(self, key: str) -> None:
        self.remove(key, 0)

    def put(self, key: str, value: Any, partition: int) -> None:
        self.changelog.setdefault(partition, []).append((key.encode(), json_bytes(value)))

    def remove(self, key: str, partition: int) -> None:
        raw_key = key.encode()
        if raw_key not in self.table.data:
            raise KeyError(key)
        self.changelog.setdefault(partition, []).append((raw_key, None))  # a tombstone

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.encode() in self.table.data

    def __iter__(self) -> Iterator[str]:
        return (key.decode() for key in self.table.data)

    def items(self) -> Iterator[tuple[str, Any]]:  # type: ignore[override]
        return ((key.decode(), orjson.loads(value)) for key, value in self.table.data.items())

    def __len__(self) -> int:
        return len(self.table.data)

    def estimated_keys(self) -> int:
        """The keys this worker holds, as RocksDB estimates them from its own counters: cheap
        enough to ask every few seconds, where ``len`` reads every key (exact for the memory
        store of unit tests)."""
        dbs = getattr(self.table.data, "_dbs", None)  # faust.stores.rocksdb: partition -> DB
        if dbs is None:
            return len(self.table.data)
        estimate = "rocksdb.estimate-num-keys"
        return sum(db.property_int_value(estimate) or 0 for db in list(dbs.values()))

    @property
    def changelog_topic(self) -> str:
        return self.table.changelog_topic.get_topic_name()

    def take_changelog(self) -> dict[int, list[tuple[bytes, bytes | None]]]:
        """The changelog records written since the last call, per partition."""
        records, self.changelog = self.changelog, {}
        for partition, changes in records.items():
            self.sent.setdefault(partition, []).extend(changes)
        return records

    def persisted(self, partition: int, offset: int) -> None:
        """The records taken for ``partition`` are in its changelog, the last at ``offset``:
        write them to the local store (under the current event's partition, ``as_current``),
        then the offset."""
        data = self.table.data
        for raw_key, raw_value in self.sent.pop(partition, ()):
            if raw_value is None:
                data.pop(raw_key, None)
            else:
                data[raw_key] = raw_value
        data.set_persisted_offset(TP(self.changelog_topic, partition), offset)


def as_current(event: EventT) -> None:
    """Make ``event`` the one whose partition the next table reads and writes of this task
    belong to.

    Only the task-local context variable that tables read (``faust.streams.current_event``) is
    set, never the Stream's own ``current_event`` attribute: ``take_events`` reads that attribute
    in the task that fills the next batch, and setting it from the agent made a message that
    arrived while a batch was being processed go into the next batch as a copy of an old event,
    and be lost (found by the stream integration test). Faust has no public setter for the
    variable; see the module docstring.
    """
    if current_event() is not event:
        _current_event.set(weakref.ref(event))


class PartitionView(MutableMapping[str, Any]):
    """The keys of one source partition inside a table shared by all partitions of a worker.

    Keys carry their partition as a prefix, so that a worker that gains a partition finds that
    partition's state (for example the open contacts whose idle timeout it must watch) with a
    scan, and per-partition logic never sees another partition's keys.
    """

    __slots__ = ("partition", "prefix", "table")

    def __init__(self, table: JsonTable, partition: int, namespace: str = "") -> None:
        """``namespace``: keys of another kind in the same table (they must not start with a
        digit, so that no namespace's view sees another's keys)."""
        self.table = table
        self.partition = partition
        self.prefix = f"{namespace}{partition}/"

    def __getitem__(self, key: str) -> Any:
        return self.table[self.prefix + key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.table.get(self.prefix + key, default)

    def __setitem__(self, key: str, value: Any) -> None:
        self.table.put(self.prefix + key, value, self.partition)

    def __delitem__(self, key: str) -> None:
        self.table.remove(self.prefix + key, self.partition)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and (self.prefix + key) in self.table

    def __iter__(self) -> Iterator[str]:
        return (key for key, _ in self.items())

    def items(self) -> Iterator[tuple[str, Any]]:  # type: ignore[override]
        cut = len(self.prefix)
        return (
            (key[cut:], value) for key, value in self.table.items() if key.startswith(self.prefix)
        )

    def __len__(self) -> int:
        return sum(1 for _ in self.items())


_DELETED = object()
_ABSENT = object()


class WriteBehind(MutableMapping[str, Any]):
    """Holds a batch's state changes in memory until ``flush`` writes them to ``store``.

    A hard kill must lose nothing, so the agents write a batch's stores in an order around its
    outputs: the state that records outputs as done (the dedup ids, the customer stage's state)
    only after they are acknowledged, so that a kill before it replays the batch and sends them
    again (downstream keeps the latest version or the first copy of an event id); the contact
    states and their records before them, so that a version is stored before it is published
    (``streams.ingest.PartitionIngest``). See docs/streams.md, "Hard kills".
    """

    __slots__ = ("pending", "store")

    def __init__(self, store: MutableMapping[str, Any]) -> None:
        self.store = store
        self.pending: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        value = self.pending.get(key, _ABSENT)
        if value is _ABSENT:
            return self.store[key]
        if value is _DELETED:
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        value = self.pending.get(key, _ABSENT)
        if value is _ABSENT:
            return self.store.get(key, default)
        return default if value is _DELETED else value

    def __setitem__(self, key: str, value: Any) -> None:
        self.pending[key] = value

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self.pending[key] = _DELETED

    def __contains__(self, key: object) -> bool:
        if key in self.pending:
            return self.pending[key] is not _DELETED
        return key in self.store

    def __iter__(self) -> Iterator[str]:
        return (key for key, _ in self.items())

    def items(self) -> Iterator[tuple[str, Any]]:  # type: ignore[override]
        for key, value in self.store.items():
            if key not in self.pending:
                yield key, value
        for key, value in self.pending.items():
            if value is not _DELETED:
                yield key, value

    def __len__(self) -> int:
        return sum(1 for _ in self.items())

    def flush(self) -> None:
        store = self.store
        for key, value in self.pending.items():
            if value is _DELETED:
                store.pop(key, None)
            else:
                store[key] = value
        self.pending.clear()
