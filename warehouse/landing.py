"""Writing Kafka records into the lake: records to Arrow, file names, and atomic files.

Layout: ``<lake>/<table>/day=<YYYY-MM-DD>/p<partition>-<first offset>-<last offset>.parquet``.
``day`` is the business day of the rows (``LakeTable.business_days``): a batch of records of
one partition becomes one file per day its rows belong to, each named for the batch's whole
offset range, so a directory's file says which offsets of its partition it holds *for that
day* (the batch's other rows are in other days' files under the same name). The sink resumes
from its manifest, never from names (warehouse.manifest).

A file is written under a ``.tmp`` name, flushed to disk, then renamed into place and the
directory synced: readers, who only list ``*.parquet``, see a whole file or none. The files of
one batch are all written before any is renamed (``write_all_atomically``).

Times are parsed into instants on the whole column at once (Arrow's ISO 8601 cast); only when
that fails is the column split in halves, down to the values that are not times, which go to
``_extra`` whole.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from warehouse.tables import ARROW_TYPES, TIMESTAMP_TYPE, Kind, LakeTable

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
    Kind.TIMESTAMP: frozenset({str, _NONE}),  # and the string must parse (_timestamps)
}
# The shape of an RFC 3339 time (a zone offset is required); Arrow's cast then checks the rest.
_RFC3339 = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
_NANOSECONDS = pa.timestamp("ns", tz="UTC")  # a time with more than 6 decimals parses as this
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
        """Whether this file holds every row ``other`` holds: another file of the same partition
        in the same day directory, whose offsets are inside this one's range (two distinct
        files of one directory never have the same range)."""
        return (
            other.path != self.path
            and other.path.parent == self.path.parent
            and other.partition == self.partition
            and self.first <= other.first
            and other.last <= self.last
        )


def file_name(partition: int, first: int, last: int) -> str:
    return f"p{partition:04d}-{first:020d}-{last:020d}.parquet"


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


def by_business_day(table: LakeTable, data: pa.Table) -> list[tuple[str, pa.Table]]:
    """``data`` (rows of ``table``) split by business day: (``YYYY-MM-DD``, its rows in their
    order), by day."""
    days = table.business_days(data)
    found = pc.unique(days)
    if len(found) == 1:
        return [(found[0].as_py().isoformat(), data)]
    ordered = found.take(pc.array_sort_indices(found))
    return [(day.as_py().isoformat(), data.filter(pc.equal(days, day))) for day in ordered]


def records_table(table: LakeTable, records: Sequence[KafkaRecord]) -> pa.Table:
    """The Arrow table of a batch of records (tombstones, records without a value, are skipped)."""
    kept = [r for r in records if r.value is not None]
    objects: list[dict[str, Any]] = []
    extras: list[dict[str, Any] | None] = []
    known = {name for name, _ in table.columns}
    for record in kept:
        obj, extra = _decode(record.value)
        if not obj.keys() <= known:  # rare: a field the table does not name (no set is built)
            unknown = obj.keys() - known
            extra = {**(extra or {}), **{k: obj[k] for k in sorted(unknown)}}
        objects.append(obj)
        extras.append(extra)
    arrays = [
        _column(kind, [o.get(name) for o in objects], name, extras) for name, kind in table.columns
    ]
    kafka_timestamps = pa.array(
        [r.timestamp if r.timestamp >= 0 else None for r in kept], pa.timestamp("ms", tz="UTC")
    )
    kafka_values = (
        pa.array([r.partition for r in kept], pa.int32()),
        pa.array([r.offset for r in kept], pa.int64()),
        kafka_timestamps.cast(TIMESTAMP_TYPE),
        pa.array([None if e is None else orjson.dumps(e).decode() for e in extras], pa.string()),
    )
    arrays += kafka_values
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
    fitting = _fitting(kind, values, name, extras)
    if kind is Kind.TIMESTAMP:
        return _timestamps(fitting, name, extras)
    return pa.array(fitting, arrow)


def _fitting(
    kind: Kind, values: list[Any], name: str, extras: list[dict[str, Any] | None]
) -> list[Any]:
    """``values`` with those of a type the column does not hold moved to ``_extra`` (rare)."""
    if _all_fit(kind, values):
        return values
    fitting = []
    for i, value in enumerate(values):
        if _fits(kind, value):
            fitting.append(value)
        else:
            fitting.append(None)
            extras[i] = {**(extras[i] or {}), name: value}
    return fitting


def _timestamps(
    values: list[str | None], name: str, extras: list[dict[str, Any] | None]
) -> pa.Array:
    """The instants of a column of RFC 3339 strings; a string that is not one goes to _extra."""
    strings = pa.array(values, pa.string())
    shaped = pc.match_substring_regex(strings, _RFC3339)
    candidates = strings
    if shaped.false_count:  # rare: only strings shaped like a time are parsed
        candidates = pc.if_else(shaped, strings, pa.scalar(None, pa.string()))
    instants = _parse_times(candidates)
    if instants.null_count > strings.null_count:  # rare: some string is not a time
        for i, instant in enumerate(instants):
            if not instant.is_valid and values[i] is not None:
                extras[i] = {**(extras[i] or {}), name: values[i]}
    return instants


def _parse_times(strings: pa.Array) -> pa.Array:
    """Instants, null where a string is not a time: the whole column at once (the usual case),
    else each half alone, down to the strings that are not times."""
    try:
        return strings.cast(TIMESTAMP_TYPE)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    if len(strings) == 1:
        return pa.array([_timestamp(strings[0])], TIMESTAMP_TYPE)
    half = len(strings) // 2
    return pa.concat_arrays([_parse_times(strings[:half]), _parse_times(strings[half:])])


def _timestamp(text: pa.StringScalar) -> pa.TimestampScalar | None:
    """One string the column's cast refused: an instant if it is a time finer than
    microseconds (truncated to them), else None (RFC 3339: a zone offset is required)."""
    try:
        return text.cast(_NANOSECONDS).cast(TIMESTAMP_TYPE, safe=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _all_fit(kind: Kind, values: list[Any]) -> bool:
    if not set(map(type, values)) <= _FITTING[kind]:
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
    write_all_atomically(
        [(data, path)], None if before_rename is None else lambda sizes: before_rename(sizes[0])
    )


def write_all_atomically(
    files: Sequence[tuple[pa.Table, Path]],
    before_rename: Callable[[list[int]], None] | None = None,
) -> None:
    """Write each ``(data, path)`` as ``write_atomically`` does, every temp file before any
    rename: ``before_rename`` gets their sizes when all are on disk and none is visible."""
    temps = [_write_temp(path, partial(_write_table, data)) for data, path in files]
    if before_rename is not None:
        before_rename([size for _, size in temps])
    for (temp, _), (_, path) in zip(temps, files, strict=True):
        os.replace(temp, path)
    for directory in {path.parent for _, path in files}:
        sync_dir(directory)


def write_tables_atomically(
    tables: Iterable[pa.Table], schema: pa.Schema, path: Path, before_rename: Callable[[int], None]
) -> int:
    """Write ``tables`` (each of ``schema``, one row group each) as one file, as
    ``write_atomically`` does, holding one table at a time: the memory a large file takes is
    that of its largest table. Its rows."""
    rows = 0

    def write(out: BinaryIO) -> None:
        nonlocal rows
        with pq.ParquetWriter(out, schema, compression="zstd") as writer:
            for table in tables:
                writer.write_table(table)
                rows += table.num_rows

    temp, size = _write_temp(path, write)
    before_rename(size)
    os.replace(temp, path)
    sync_dir(path.parent)
    return rows


def _write_table(data: pa.Table, out: BinaryIO) -> None:
    pq.write_table(data, out, compression="zstd")


def _write_temp(path: Path, write: Callable[[BinaryIO], None]) -> tuple[Path, int]:
    """What ``write`` writes, synced beside ``path`` under a temp name; the name and the size."""
    directory = path.parent
    if not directory.is_dir():
        directory.mkdir(parents=True, exist_ok=True)
        sync_dir(directory.parent)
    temp = path.with_name(f"{path.name}.{os.getpid()}{TEMP_SUFFIX}")
    with temp.open("wb") as out:
        write(out)
        out.flush()
        os.fsync(out.fileno())
        return temp, out.tell()


def sync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
