"""What the sink landed, in a manifest only the sink writes: the lake's names are not trusted.

A lake file's name says which offsets it holds, but whoever can write into the lake can give a
file any name: a file claiming offsets 0..999999999 once made the sink resume past data it never
landed, and compaction delete the real files that file "covered". So the sink keeps, outside the
lake's tables, one manifest per topic partition (``<lake>/_sink/manifests/<table>/p0003.jsonl``,
beside the lake so that sinks sharing a lake share it, outside what analysts can reach): a log of
JSON lines, one per file it wrote (``add``: path, offsets, rows, bytes) or removed (``remove``).
Only files the manifest knows, at the size it recorded, count as landed, are compacted, or are
deleted; any other ``*.parquet`` in the partition's directories is **quarantined**: moved to
``<lake>/_sink/quarantine/<table>/<day>/`` (outside every view's glob) and logged, never deleted.

Crash safety: a new file is recorded after its temp file is synced and before its rename
(landing.write_atomically), so a crash in between leaves a record whose file is missing, which
the next assignment drops (the offsets are read again); a removal is recorded after the unlink.
A line torn by a crash is the last one and is ignored. On every assignment the sink replays the
log, reconciles it with the disk and replaces it atomically with the current state.

Migration: when the manifest root does not exist yet (a lake landed before manifests), the first
assignment adopts the partition's files whose content agrees with their name (rows of that
partition, offsets inside the name's range, the range below the partition's end offset in
Kafka); the others are quarantined.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pyarrow.compute as pc
import pyarrow.parquet as pq

from warehouse.landing import SINK_DIR, TEMP_SUFFIX, LakeFile, files_in, sync_dir
from warehouse.tables import LakeTable

log = logging.getLogger(__name__)


def manifest_path(lake_dir: Path, table: LakeTable, partition: int) -> Path:
    return lake_dir / SINK_DIR / "manifests" / table.name / f"p{partition:04d}.jsonl"


@dataclass(frozen=True)
class Entry:
    """A file the sink wrote: where, which offsets, how many rows, how many bytes."""

    lake_file: LakeFile
    rows: int
    size: int
    parts: tuple[Path, ...] = ()  # a merged file: the files it replaces

    def intact(self) -> bool:
        try:
            return self.lake_file.path.stat().st_size == self.size
        except FileNotFoundError:
            return False


class PartitionManifest:
    """The files of one topic partition of one lake table that the sink wrote."""

    def __init__(
        self, path: Path, table_dir: Path, partition: int, quarantined: list[Path] | None = None
    ) -> None:
        self.path = path
        self.table_dir = table_dir
        self.partition = partition
        self.quarantined = [] if quarantined is None else quarantined  # where files went
        self.entries: dict[Path, Entry] = {}
        for line in _lines(path):
            relative = table_dir / line["path"]
            if line["op"] == "add":
                lake_file = LakeFile(relative, partition, line["first"], line["last"])
                parts = tuple(table_dir / part for part in line.get("parts", ()))
                self.entries[relative] = Entry(lake_file, line["rows"], line["size"], parts)
            else:
                self.entries.pop(relative, None)

    # ---------------------------------------------------------------- recording

    def added(
        self, lake_file: LakeFile, rows: int, size: int, parts: tuple[Path, ...] = ()
    ) -> None:
        entry = Entry(lake_file, rows, size, parts)
        self.entries[lake_file.path] = entry
        self._append(self._add_line(entry))

    def removed(self, lake_file: LakeFile) -> None:
        if self.entries.pop(lake_file.path, None) is not None:
            self._append({"op": "remove", "path": self._relative(lake_file.path)})

    # ------------------------------------------------------------------ reading

    def trusted_files(self, directory: Path) -> list[LakeFile]:
        """The files of ``directory`` the sink wrote and nobody changed, by first offset; any
        other file of this partition there is quarantined first."""
        self.quarantine_foreign(directory)
        files = [
            e.lake_file
            for e in self.entries.values()
            if e.lake_file.path.parent == directory and e.intact()
        ]
        return sorted(files, key=lambda f: (f.first, -f.last))

    def quarantine_foreign(self, directory: Path) -> None:
        """Move aside every file of this partition in ``directory`` the manifest does not know,
        or knows at another size."""
        for lake_file in files_in(directory, self.partition):
            entry = self.entries.get(lake_file.path)
            if entry is not None and entry.intact():
                continue
            # A changed file keeps its entry, now without a file: the next reconciliation
            # (the next assignment) lands its offsets again.
            reason = (
                "not written by the sink" if entry is None else "changed since the sink wrote it"
            )
            target = quarantine(self.table_dir, lake_file.path, reason)
            if target is not None:
                self.quarantined.append(target)

    def reconcile(self, day_dirs: list[Path]) -> int | None:
        """Check the disk against the manifest and rewrite it; the first offset to land next
        (None: nothing landed, start at the beginning)."""
        for directory in day_dirs:
            self.quarantine_foreign(directory)
        intact = [e for e in self.entries.values() if e.intact()]
        missing = [e for e in self.entries.values() if not e.intact()]
        # A missing file is fine when a present one holds its offsets (a compacted part whose
        # removal a crash did not record), or when it is a merged file whose parts are all
        # there (a crash before its rename); otherwise its offsets must be landed again.
        present = {e.lake_file.path for e in intact}
        lost = [
            e.lake_file.first
            for e in missing
            if not (e.parts and set(e.parts) <= present)
            and not any(
                k.lake_file.first <= e.lake_file.first and e.lake_file.last <= k.lake_file.last
                for k in intact
            )
        ]
        self.entries = {e.lake_file.path: e for e in intact}
        self._rewrite()
        if lost:
            log.warning(
                "%s p%d: files the sink wrote are gone; landing again from offset %d",
                self.table_dir.name,
                self.partition,
                min(lost),
            )
            return min(lost)
        if not intact:
            return None
        return max(e.lake_file.last for e in intact) + 1

    def adopt(self, day_dirs: list[Path], end_offset: int) -> int:
        """Record the well-formed files of a lake landed before manifests; how many."""
        adopted = 0
        for directory in day_dirs:
            for lake_file in files_in(directory, self.partition):
                rows = _agreeing_rows(lake_file, end_offset)
                if rows is None:
                    continue  # quarantined by the reconciliation that follows
                size = lake_file.path.stat().st_size
                self.entries[lake_file.path] = Entry(lake_file, rows, size)
                adopted += 1
        self._rewrite()
        return adopted

    # ----------------------------------------------------------------- plumbing

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.table_dir).as_posix()

    def _add_line(self, entry: Entry) -> dict:
        f = entry.lake_file
        line = {
            "op": "add",
            "path": self._relative(f.path),
            "first": f.first,
            "last": f.last,
            "rows": entry.rows,
            "size": entry.size,
        }
        if entry.parts:
            line["parts"] = [self._relative(part) for part in entry.parts]
        return line

    def _append(self, line: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as out:
            out.write(orjson.dumps(line) + b"\n")
            out.flush()
            os.fsync(out.fileno())

    def _rewrite(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.path.with_name(f"{self.path.name}.{os.getpid()}{TEMP_SUFFIX}")
        with temp.open("wb") as out:
            for entry in sorted(self.entries.values(), key=lambda e: e.lake_file.first):
                out.write(orjson.dumps(self._add_line(entry)) + b"\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, self.path)
        sync_dir(self.path.parent)


def quarantine_strays(table_dir: Path, partition_count: int) -> list[Path]:
    """Quarantine the ``*.parquet`` files of a table's day directories that belong to no
    partition: a name the sink never gives, or a partition the topic does not have."""
    moved = []
    for path in sorted(table_dir.glob("day=*/*.parquet")):
        lake_file = LakeFile.parse(path)
        if lake_file is not None and lake_file.partition < partition_count:
            continue
        target = quarantine(table_dir, path, "of no partition of the topic")
        if target is not None:
            moved.append(target)
    return moved


def quarantine(table_dir: Path, path: Path, reason: str) -> Path | None:
    """Move a lake file out of every view's reach, keeping it for an operator; where to (None:
    someone else moved it first)."""
    lake_dir = table_dir.parent
    target_dir = lake_dir / SINK_DIR / "quarantine" / path.relative_to(lake_dir).parent
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / path.name
    n = 1
    while target.exists():
        target = target_dir / f"{path.name}.{n}"
        n += 1
    try:
        os.replace(path, target)
    except FileNotFoundError:
        return None
    log.warning("quarantined %s (%s): moved to %s", path, reason, target)
    return target


def _agreeing_rows(lake_file: LakeFile, end_offset: int) -> int | None:
    """The rows of a file whose content agrees with its name, else None."""
    if lake_file.last >= end_offset:
        return None
    try:
        columns = pq.read_table(lake_file.path, columns=["_kafka_partition", "_kafka_offset"])
    except (OSError, ValueError, KeyError):
        return None
    if columns.num_rows == 0 or columns.num_rows > lake_file.span:
        return None
    partitions = pc.unique(columns.column("_kafka_partition")).to_pylist()
    offsets = pc.min_max(columns.column("_kafka_offset"))
    if partitions != [lake_file.partition]:
        return None
    if offsets["min"].as_py() < lake_file.first or offsets["max"].as_py() > lake_file.last:
        return None
    return columns.num_rows


def _lines(path: Path) -> Iterator[dict]:
    if not path.exists():
        return
    for raw in path.read_bytes().splitlines():
        try:
            yield orjson.loads(raw)
        except orjson.JSONDecodeError:
            log.warning("%s: skipped a torn line (a crash while it was written)", path)
