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

Crash safety: the files of a batch (one per business day, landing.write_all_atomically) are
recorded together, in one append, after their temp files are synced and before any rename, so a
crash in between leaves records whose files are (partly) missing. The next assignment then lands
again from the first offset of such a file, and first deletes the files holding offsets of its
range (the renamed day files of that batch; a merged file spanning it, whose range then counts
too), so that no row is in the lake twice. A removal is recorded after the unlink. A line torn by a crash is the last one and is
ignored. On every assignment the sink replays the log, reconciles it with the disk and replaces
it atomically with the current state.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

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
        self.added_all([Entry(lake_file, rows, size, parts)])

    def added_all(self, entries: list[Entry]) -> None:
        """Record files written together (a batch's day files) in one append."""
        for entry in entries:
            self.entries[entry.lake_file.path] = entry
        self._append([self._add_line(entry) for entry in entries])

    def removed(self, lake_file: LakeFile) -> None:
        if self.entries.pop(lake_file.path, None) is not None:
            self._append([{"op": "remove", "path": self._relative(lake_file.path)}])

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
        # A missing file is fine when a present one of its directory holds its rows (a
        # compacted part whose removal a crash did not record), or when it is a merged file
        # whose parts are all there (a crash before its rename); otherwise its offsets must be
        # landed again.
        present = {e.lake_file.path for e in intact}
        lost = [
            e
            for e in missing
            if not (e.parts and set(e.parts) <= present)
            and not any(k.lake_file.covers(e.lake_file) for k in intact)
        ]
        resume = None
        if lost:
            resume, intact = self._drop_batch_mates(lost, intact)
        self.entries = {e.lake_file.path: e for e in intact}
        self._rewrite()
        if resume is not None:
            log.warning(
                "%s p%d: files the sink wrote are gone; landing again from offset %d",
                self.table_dir.name,
                self.partition,
                resume,
            )
            return resume
        if not intact:
            return None
        return max(e.lake_file.last for e in intact) + 1

    def _drop_batch_mates(self, lost: list[Entry], intact: list[Entry]) -> tuple[int, list[Entry]]:
        """Delete the files holding offsets of a lost file's range (the other day files of its
        batch, a merged file spanning it): they are landed again with it and must not be there
        twice. The offset to land again from, and the entries kept."""
        ranges = [(e.lake_file.first, e.lake_file.last) for e in lost]
        while True:
            dropped = [
                e
                for e in intact
                if any(
                    e.lake_file.first <= last and first <= e.lake_file.last
                    for first, last in ranges
                )
            ]
            if not dropped:
                return min(first for first, _ in ranges), intact
            for entry in dropped:
                entry.lake_file.path.unlink(missing_ok=True)
            intact = [e for e in intact if e not in dropped]
            ranges += [(e.lake_file.first, e.lake_file.last) for e in dropped]

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

    def _append(self, lines: list[dict]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as out:
            out.write(b"".join(orjson.dumps(line) + b"\n" for line in lines))
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


def _lines(path: Path) -> Iterator[dict]:
    if not path.exists():
        return
    for raw in path.read_bytes().splitlines():
        try:
            yield orjson.loads(raw)
        except orjson.JSONDecodeError:
            log.warning("%s: skipped a torn line (a crash while it was written)", path)
