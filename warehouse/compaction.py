"""Merging small lake files, crash-safe and never half-visible.

The sink lands one file per batch; a quiet topic or a short batch time makes many small files,
which slow every query. Within one day directory and one Kafka partition, a run of consecutive
small files (each spanning fewer than ``target_rows`` offsets, together at most that many) of at
least ``min_files`` files is merged into one file named for the run's whole offset range.

Only files the sink's manifest knows (warehouse.manifest) take part: a file someone else put in
the lake is quarantined, never merged, and never the reason to delete a part.

Order of operations: the merged file is written atomically (landing.write_tables_atomically) and
recorded in the manifest before its rename; only then
are the parts it replaced deleted, and only once the merged file is ``grace_seconds`` old, so a
query that listed the parts before the merge can still open them. Until then a reader sees both
the merged file and its parts: the lake views keep one row per (partition, offset), so the rows
count once. A crash at any point leaves either the parts alone, or the parts and a complete
merged file; the next pass deletes parts covered by a merged file, so nothing is lost, and no
row is ever counted twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from warehouse.landing import LakeFile, file_name, write_tables_atomically
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


# Rows read, kept and written at a time by a merge, and so a row group of the merged file: a
# merge holds about this many rows, whatever the run's size (DuckDB's own row groups are 122,880).
MERGE_CHUNK_ROWS = 65_536


def _merge(directory: Path, run: list[LakeFile], manifest: PartitionManifest) -> LakeFile:
    """The run's rows in one file, by offset, each offset once, streamed (``_MergedChunks``):
    a table whose rows all land on one day (identity merges, customer keys: the day they were
    landed) has a single day directory whose runs grow to ``target_rows`` offsets during a
    backfill, and a merge held in memory grew with them (the sink's peak memory with it)."""
    run = sorted(run, key=lambda f: (f.first, -f.last))
    schema = pa.unify_schemas([pq.read_schema(f.path) for f in run], promote_options="permissive")
    partition, first, last = run[0].partition, run[0].first, max(f.last for f in run)
    path = directory / file_name(partition, first, last)
    lake_file = LakeFile(path, partition, first, last)
    parts = tuple(f.path for f in run)
    chunks = _MergedChunks(run, schema)
    write_tables_atomically(
        chunks, schema, path, lambda size: manifest.added(lake_file, chunks.rows, size, parts)
    )
    return lake_file


class _MergedChunks:
    """The rows of the run's files (by first offset) in chunks of ``MERGE_CHUNK_ROWS`` rows of
    ``schema``, each offset once: a file holds its rows by offset (the sink lands them in
    offset order and every rewrite filters, keeps or sorts), so the rows of a file whose
    offsets another file of the run wrote already are a prefix of it (parts of one run overlap
    only when two sinks once wrote the same partition). ``rows``: how many were yielded."""

    def __init__(self, run: list[LakeFile], schema: pa.Schema) -> None:
        self.run, self.schema, self.rows = run, schema, 0

    def __iter__(self) -> Iterator[pa.Table]:
        held: list[pa.Table] = []
        held_rows = 0
        for batch in self._new_rows():
            held.append(batch)
            held_rows += batch.num_rows
            if held_rows >= MERGE_CHUNK_ROWS:
                yield self._chunk(held)
                held, held_rows = [], 0
        if held:
            yield self._chunk(held)

    def _new_rows(self) -> Iterator[pa.Table]:
        written = -1  # the last offset yielded
        for f in self.run:
            for batch in pq.ParquetFile(f.path).iter_batches(MERGE_CHUNK_ROWS):
                offsets = batch.column("_kafka_offset").to_numpy()
                if len(offsets) and (np.diff(offsets) <= 0).any():
                    raise ValueError(f"{f.path}: its rows are not in offset order")
                batch = batch.slice(int(np.searchsorted(offsets, written, side="right")))
                if batch.num_rows:
                    written = int(offsets[-1])
                    yield _aligned(pa.Table.from_batches([batch]), self.schema)

    def _chunk(self, held: list[pa.Table]) -> pa.Table:
        chunk = pa.concat_tables(held)  # no copy: the writer takes a row group of chunks
        self.rows += chunk.num_rows
        return chunk


def _aligned(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with the columns of ``schema`` (the run's files' schemas unified), in its order:
    a column a file lacks is null, one of a narrower type is cast."""
    columns = [
        table.column(f.name).cast(f.type)
        if f.name in table.column_names
        else pa.nulls(table.num_rows, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def _delete(parts: list[LakeFile], result: CompactionResult, manifest: PartitionManifest) -> None:
    for part in parts:
        part.path.unlink(missing_ok=True)
        manifest.removed(part)
        result.deleted.append(part)
