"""Writing Kafka records into the lake: records to Arrow, file names, and atomic files.

Layout: ``<lake>/<table>/day=<YYYY-MM-DD>/p<partition>-<first offset>-<last offset>.parquet``.
The name says which offsets of which partition the file holds, and a file written again for the
same records gets the same name; the sink resumes from its manifest, though, never from names
(warehouse.manifest). The
day is the UTC day of the Kafka timestamp of the file's first record (the landing day), so a file
never straddles two directories.

A file is written under a ``.tmp`` name, flushed to disk, then renamed into place and the
directory synced: readers, who only list ``*.parquet``, see a whole file or none.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from warehouse.tables import ARROW_TYPES, KAFKA_COLUMNS, Kind, LakeTable

_NAME = re.compile(r"p(\d{4})-(\d{20})-(\d{20})\.parquet")
TEMP_SUFFIX = ".tmp"
SINK_DIR = "_sink"  # the sink's own files (manifests, locks, quarantine): not a table's
_NONE = type(None)
# The Python types a column of each kind accepts as they are (bool is not an int here).
_FITTING: dict[Kind, frozenset[type]] = {
    Kind.STRING: frozenset({str, _NONE}),
    Kind.INT: frozenset({int, _NONE}),
    Kind.FLOAT: frozenset({float, int, _NONE}),
    Kind.BOOL: frozenset({bool, _NONE}),
    Kind.STRINGS: frozenset({list, _NONE}),
}
_INT64 = range(-(2**63), 2**63)
_EXACT_DOUBLE = range(-(2**53), 2**53 + 1)  # integers a float column holds exactly


class KafkaRecord(Protocol):
    """What the lake needs of a consumed message (kafka-python's ConsumerRecord has it)."""

    partition: int
    offset: int
    timestamp: int  # epoch milliseconds
    value: bytes | None


@dataclass(frozen=True)
class LakeFile:
    path: Path
    partition: int
    first: int  # offsets, inclusive
    last: int

    @classmethod
    def parse(cls, path: Path) -> LakeFile | None:
        match = _NAME.fullmatch(path.name)
        if match is None:
            return None
        partition, first, last = map(int, match.groups())
        return cls(path, partition, first, last)

    @property
    def span(self) -> int:
        return self.last - self.first + 1

    def covers(self, other: LakeFile) -> bool:
        """Whether this file holds every offset ``other`` holds (another file of the same
        partition and directory; two distinct files never have the same range there)."""
        return (
            other.path != self.path
            and other.partition == self.partition
            and self.first <= other.first
            and other.last <= self.last
        )


def file_name(partition: int, first: int, last: int) -> str:
    return f"p{partition:04d}-{first:020d}-{last:020d}.parquet"


def landing_day(timestamp_ms: int) -> str:
    return datetime.fromtimestamp(max(timestamp_ms, 0) / 1000, UTC).strftime("%Y-%m-%d")


def lake_file_path(
    lake_dir: Path, table: LakeTable, day: str, partition: int, first: int, last: int
) -> Path:
    return lake_dir / table.name / f"day={day}" / file_name(partition, first, last)


def day_dirs(lake_dir: Path, table: LakeTable) -> list[Path]:
    root = lake_dir / table.name
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("day="))


def files_in(directory: Path, partition: int | None = None) -> list[LakeFile]:
    """The lake files of a day directory (of one partition, if given), by first offset."""
    found = []
    with os.scandir(directory) as entries:
        for entry in entries:
            lake_file = LakeFile.parse(Path(entry.path))
            if lake_file is not None and partition in (None, lake_file.partition):
                found.append(lake_file)
    return sorted(found, key=lambda f: (f.first, -f.last))


def remove_temp_files(lake_dir: Path, table: LakeTable, partition: int) -> int:
    """Delete what a writer of ``partition`` killed mid-file left behind; how many."""
    prefix = f"p{partition:04d}-"
    removed = 0
    for directory in day_dirs(lake_dir, table):
        for path in directory.glob(f"{prefix}*{TEMP_SUFFIX}"):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def records_table(table: LakeTable, records: Sequence[KafkaRecord]) -> pa.Table:
    """The Arrow table of a batch of records (tombstones, records without a value, are skipped)."""
    kept = [r for r in records if r.value is not None]
    objects: list[dict[str, Any]] = []
    extras: list[dict[str, Any] | None] = []
    known = {name for name, _ in table.columns}
    for record in kept:
        obj, extra = _decode(record.value)
        unknown = obj.keys() - known
        if unknown:
            extra = {**(extra or {}), **{k: obj[k] for k in sorted(unknown)}}
        objects.append(obj)
        extras.append(extra)
    arrays = [
        _column(kind, [o.get(name) for o in objects], name, extras) for name, kind in table.columns
    ]
    kafka_values = (
        [r.partition for r in kept],
        [r.offset for r in kept],
        [r.timestamp if r.timestamp >= 0 else None for r in kept],
        [None if e is None else orjson.dumps(e).decode() for e in extras],
    )
    arrays += [
        pa.array(v, arrow) for v, (_, arrow, _) in zip(kafka_values, KAFKA_COLUMNS, strict=True)
    ]
    return pa.Table.from_arrays(arrays, schema=table.arrow_schema)


def _decode(value: bytes) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The record's fields, and what must go to ``_extra`` when it is not a JSON object."""
    try:
        decoded = orjson.loads(value)
    except orjson.JSONDecodeError:
        return {}, {"_raw_base64": base64.b64encode(value).decode("ascii")}
    if isinstance(decoded, dict):
        return decoded, None
    return {}, {"_value": decoded}


def _column(
    kind: Kind, values: list[Any], name: str, extras: list[dict[str, Any] | None]
) -> pa.Array:
    arrow = ARROW_TYPES[kind]
    if kind is Kind.JSON:
        return pa.array([None if v is None else orjson.dumps(v).decode() for v in values], arrow)
    if _all_fit(kind, values):
        return pa.array(values, arrow)
    # Rare: some value has another type. It moves to _extra, the column gets null there.
    fitting = []
    for i, value in enumerate(values):
        if _fits(kind, value):
            fitting.append(value)
        else:
            fitting.append(None)
            extras[i] = {**(extras[i] or {}), name: value}
    return pa.array(fitting, arrow)


def _all_fit(kind: Kind, values: list[Any]) -> bool:
    if not {type(v) for v in values} <= _FITTING[kind]:
        return False
    if kind is Kind.INT:
        return all(v is None or v in _INT64 for v in values)
    if kind is Kind.FLOAT:
        return all(type(v) is not int or v in _EXACT_DOUBLE for v in values)
    if kind is Kind.STRINGS:
        return all(type(item) is str for v in values if v for item in v)
    return True


def _fits(kind: Kind, value: Any) -> bool:
    return _all_fit(kind, [value])


def write_atomically(
    data: pa.Table, path: Path, before_rename: Callable[[int], None] | None = None
) -> None:
    """Write ``data`` as a zstd Parquet file at ``path``: temp name, fsync, rename, sync dir.
    ``before_rename`` gets the file's size once it is on disk, before it becomes visible (the
    sink records the file in its manifest there, warehouse.manifest)."""
    directory = path.parent
    if not directory.is_dir():
        directory.mkdir(parents=True, exist_ok=True)
        sync_dir(directory.parent)
    temp = path.with_name(f"{path.name}.{os.getpid()}{TEMP_SUFFIX}")
    with temp.open("wb") as out:
        pq.write_table(data, out, compression="zstd")
        out.flush()
        os.fsync(out.fileno())
        size = out.tell()
    if before_rename is not None:
        before_rename(size)
    os.replace(temp, path)
    sync_dir(directory)


def sync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
