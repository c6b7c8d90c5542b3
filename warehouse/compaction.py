"""Merging small lake files, crash-safe and never half-visible.

The sink lands one file per batch; a quiet topic or a short batch time makes many small files,
which slow every query. Within one day directory and one Kafka partition, a run of consecutive
small files (each spanning fewer than ``target_rows`` offsets, together at most that many) of at
least ``min_files`` files is merged into one file named for the run's whole offset range.

Only files the sink's manifest knows (warehouse.manifest) take part: a file someone else put in
the lake is quarantined, never merged, and never the reason to delete a part.

Order of operations: the merged file is written atomically (landing.write_atomically) and
recorded in the manifest before its rename; only then
are the parts it replaced deleted, and only once the merged file is ``grace_seconds`` old, so a
query that listed the parts before the merge can still open them. Until then a reader sees both
the merged file and its parts: the lake views keep one row per (partition, offset), so the rows
count once. A crash at any point leaves either the parts alone, or the parts and a complete
merged file; the next pass deletes parts covered by a merged file, so nothing is lost, and no
row is ever counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from warehouse.landing import LakeFile, file_name, write_atomically
from warehouse.manifest import PartitionManifest


@dataclass(frozen=True)
class CompactionPolicy:
    min_files: int
    target_rows: int
    grace_seconds: float


@dataclass
class CompactionResult:
    merged: list[LakeFile]  # files written
    deleted: list[LakeFile]  # parts removed
    waiting: int  # replaced parts kept until their grace period ends

    @property
    def changed(self) -> bool:
        return bool(self.merged or self.deleted)


def compact_directory(
    directory: Path, manifest: PartitionManifest, policy: CompactionPolicy, now: float
) -> CompactionResult:
    """One pass over the files of the manifest's partition in a day directory: only files the
    manifest knows are merged or deleted (warehouse.manifest). ``now`` is epoch seconds."""
    result = CompactionResult([], [], 0)
    live = _sweep(manifest.trusted_files(directory), policy, now, result, manifest)
    for run in _runs(live, policy):
        merged = _merge(directory, run, manifest)
        result.merged.append(merged)
        if policy.grace_seconds <= 0:
            _delete(run, result, manifest)
        else:
            result.waiting += len(run)
    return result


def _sweep(
    files: list[LakeFile],
    policy: CompactionPolicy,
    now: float,
    result: CompactionResult,
    manifest: PartitionManifest,
) -> list[LakeFile]:
    """Delete replaced parts whose grace period is over; the files that replace none."""
    covered = {
        f.path: max((g for g in files if g.covers(f)), key=lambda g: g.span, default=None)
        for f in files
    }
    live = [f for f in files if covered[f.path] is None]
    for part in files:
        merged = covered[part.path]
        if merged is None:
            continue
        if merged.path.stat().st_mtime + policy.grace_seconds <= now:
            _delete([part], result, manifest)
        else:
            result.waiting += 1
    return live


def _runs(live: list[LakeFile], policy: CompactionPolicy) -> list[list[LakeFile]]:
    """Runs of consecutive small files worth merging (at least ``min_files``)."""
    runs: list[list[LakeFile]] = []
    run: list[LakeFile] = []
    for f in live:
        small = f.span < policy.target_rows
        if run and (not small or f.last - run[0].first + 1 > policy.target_rows):
            runs.append(run)
            run = []
        if small:
            run.append(f)
    runs.append(run)
    return [r for r in runs if len(r) >= max(policy.min_files, 2)]


def _merge(directory: Path, run: list[LakeFile], manifest: PartitionManifest) -> LakeFile:
    parts = [pq.read_table(f.path) for f in run]
    merged = pa.concat_tables(parts, promote_options="permissive")
    merged = merged.sort_by([("_kafka_offset", "ascending")])
    offsets = merged.column("_kafka_offset").to_numpy()
    # Parts of one run never overlap unless two sinks once wrote the same partition: keep one.
    unique = np.concatenate(([True], offsets[1:] != offsets[:-1])) if len(offsets) else offsets
    if not unique.all():
        merged = merged.filter(pa.array(unique))
    partition, first, last = run[0].partition, run[0].first, max(f.last for f in run)
    path = directory / file_name(partition, first, last)
    lake_file = LakeFile(path, partition, first, last)
    parts = tuple(f.path for f in run)
    write_atomically(
        merged, path, lambda size: manifest.added(lake_file, merged.num_rows, size, parts)
    )
    return lake_file


def _delete(parts: list[LakeFile], result: CompactionResult, manifest: PartitionManifest) -> None:
    for part in parts:
        part.path.unlink(missing_ok=True)
        manifest.removed(part)
        result.deleted.append(part)
