"""Rewriting the lake for an erasure (``omnicx erase``, ``omnicx tenants remove``; docs/tenancy.md,
Erasure and offboarding).

An erasure either **anonymises** a tenant's rows that carry one of a set of values (identifier
hashes, customer keys, alert ids): each such value is replaced by a random token, the same token
for every row, so that the rows still group as before (a customer's contacts stay one customer,
and every KPI, repeat contacts and journeys included, keeps its value) while nothing in them
leads back to the person; or it **drops** every row of a tenant (offboarding). Only files the
sink's manifest knows are rewritten (warehouse.manifest): a file keeps its name, hence the
offsets it claims, even when no row is left, so that the sink never lands those offsets again.

Not racing the sink: the sink holds ``<lake>/_sink/maintenance.lock`` shared while it runs
(``hold_for_landing``, several sinks at once); an erasure takes it exclusively
(``lake_maintenance``) and is refused while any sink runs, and a sink started during an erasure
waits for it to end.

Crash safety: each file is rewritten under a temp name and synced; then a line of the rewrite
journal (``<lake>/_sink/rewrites.jsonl``) records it, then the manifest records the new size,
then the temp file is renamed over the old one. Whoever takes the lock next (the re-run erasure,
or a sink) first rolls the journal forward (``recover_rewrites``): a temp file still there is
renamed into place and the manifest told its size again. A file is thus either old or new, never
"changed since the sink wrote it" (which the sink would quarantine and land again from Kafka).
Running the same erasure again changes nothing more (its tokens are kept with the plan).
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from warehouse.landing import SINK_DIR, TEMP_SUFFIX, LakeFile, sync_dir, write_atomically
from warehouse.manifest import Entry, PartitionManifest, manifest_path
from warehouse.tables import DEAD_LETTERS, LAKE_TABLES, Kind, LakeTable

log = logging.getLogger(__name__)

LOCK_FILE = "maintenance.lock"
JOURNAL_FILE = "rewrites.jsonl"
_MANIFEST_NAME = "p*.jsonl"


class LakeBusy(RuntimeError):
    """A sink is landing into the lake: an erasure must wait until it is stopped."""


@dataclass(frozen=True)
class LakeErasure:
    """What to change in one tenant's rows of the lake."""

    tenant: str
    # identifier hashes, customer keys, alert ids -> their token (anonymising)
    replace: dict[str, str] = field(default_factory=dict)
    # contacts whose dead letters lose their redacted preview (their only free-form column)
    contacts: frozenset[str] = frozenset()
    drop_tenant: bool = False  # offboarding: every row of the tenant goes


# ----------------------------------------------------------------------------- the lock


@contextmanager
def lake_maintenance(lake_dir: Path) -> Iterator[None]:
    """Hold the lake exclusively (no sink landing) for an erasure; LakeBusy while a sink runs.
    Interrupted rewrites of an earlier erasure are rolled forward first."""
    handle = _lock_handle(lake_dir)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LakeBusy(
                f"a lake sink is running on {lake_dir}: stop it first (`omnicx down`, then "
                "`omnicx kafka start` for the broker alone; docs/tenancy.md)"
            ) from None
        recover_rewrites(lake_dir)
        yield
    finally:
        handle.close()


def hold_for_landing(lake_dir: Path) -> IO[str]:
    """The sink's shared hold on the lake, for as long as it runs (close the handle to release
    it): waits while an erasure rewrites the lake, and finishes one that was interrupted."""
    handle = _lock_handle(lake_dir)
    try:
        fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        log.warning("an erasure is rewriting the lake at %s: waiting for it to end", lake_dir)
        fcntl.flock(handle, fcntl.LOCK_SH)
    recover_rewrites(lake_dir)
    return handle


def _lock_handle(lake_dir: Path) -> IO[str]:
    directory = lake_dir / SINK_DIR
    directory.mkdir(parents=True, exist_ok=True)
    return (directory / LOCK_FILE).open("a+")


# ------------------------------------------------------------------- crash-safe rewrites


def _journal(lake_dir: Path) -> Path:
    return lake_dir / SINK_DIR / JOURNAL_FILE


def recover_rewrites(lake_dir: Path) -> int:
    """Roll forward the rewrites an interrupted erasure journaled; how many files it renamed."""
    journal = _journal(lake_dir)
    if not journal.exists():
        return 0
    renamed = 0
    for raw in journal.read_bytes().splitlines():
        try:
            line = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue  # torn by the crash: its file was never renamed nor recorded
        path, temp = lake_dir / line["path"], lake_dir / line["temp"]
        if temp.exists():
            os.replace(temp, path)
            sync_dir(path.parent)
            renamed += 1
        if path.exists() and path.stat().st_size == line["size"]:
            _record(lake_dir, line)
    journal.unlink()
    if renamed:
        log.warning("finished %d lake rewrites an interrupted erasure left", renamed)
    return renamed


def _record(lake_dir: Path, line: dict) -> None:
    """Tell the file's manifest its new row count and size (again: recording twice is fine)."""
    table = next(t for t in LAKE_TABLES if t.name == line["table"])
    path = lake_dir / line["path"]
    lake_file = LakeFile(path, line["partition"], line["first"], line["last"])
    manifest = PartitionManifest(
        manifest_path(lake_dir, table, line["partition"]), lake_dir / table.name, line["partition"]
    )
    known = manifest.entries.get(path)
    if known is None or known.size != line["size"] or known.rows != line["rows"]:
        parts = known.parts if known is not None else ()
        manifest.added(lake_file, line["rows"], line["size"], parts)


def _rewrite(lake_dir: Path, table: LakeTable, entry: Entry, data: pa.Table) -> None:
    """Replace one landed file by ``data``: journal, manifest, rename (module docstring)."""
    path = entry.lake_file.path
    temp = path.with_name(f"{path.name}.{os.getpid()}{TEMP_SUFFIX}")

    def before_rename(size: int) -> None:
        line = {
            "table": table.name,
            "path": path.relative_to(lake_dir).as_posix(),
            "temp": temp.relative_to(lake_dir).as_posix(),
            "partition": entry.lake_file.partition,
            "first": entry.lake_file.first,
            "last": entry.lake_file.last,
            "rows": data.num_rows,
            "size": size,
        }
        with _journal(lake_dir).open("ab") as out:
            out.write(orjson.dumps(line) + b"\n")
            out.flush()
            os.fsync(out.fileno())
        _record(lake_dir, line)

    write_atomically(data, path, before_rename)


# --------------------------------------------------------------------------- the rewrite


def landed_entries(lake_dir: Path, table: LakeTable) -> list[Entry]:
    """The files of a table that the sink's manifests know, intact, in a stable order."""
    root = lake_dir / SINK_DIR / "manifests" / table.name
    entries = []
    for path in sorted(root.glob(_MANIFEST_NAME)):
        partition = int(path.stem[1:])
        manifest = PartitionManifest(path, lake_dir / table.name, partition)
        entries += [e for e in manifest.entries.values() if e.intact()]
    return sorted(entries, key=lambda e: e.lake_file.path)


def erase_lake(lake_dir: Path, erasure: LakeErasure) -> tuple[dict[str, int], set[str]]:
    """Apply ``erasure`` to every landed file (hold ``lake_maintenance``); the rows changed (or
    dropped) per table, and the business days of the rows changed (``YYYY-MM-DD``) of the
    tables whose rows have one (the days whose marts change). Files without such a row are
    left as they are."""
    changed: dict[str, int] = {}
    days: set[str] = set()
    for table in LAKE_TABLES:
        for entry in landed_entries(lake_dir, table):
            data = pq.read_table(entry.lake_file.path)
            new, count = erase_rows(table, data, erasure)
            if count:
                _rewrite(lake_dir, table, entry, new)
                changed[table.name] = changed.get(table.name, 0) + count
                if table.day_from:  # else the day it was landed, which no KPI is of
                    days.add(entry.lake_file.path.parent.name.removeprefix("day="))
    journal = _journal(lake_dir)
    journal.unlink(missing_ok=True)  # every rewrite is renamed and recorded
    return changed, days


def erase_rows(table: LakeTable, data: pa.Table, erasure: LakeErasure) -> tuple[pa.Table, int]:
    """``data`` with the erasure applied, and how many rows it changed or dropped."""
    if "tenant" not in data.column_names or not _mentions(table, data, erasure):
        return data, 0
    ours = pc.fill_null(pc.equal(data.column("tenant"), erasure.tenant), False)
    if erasure.drop_tenant:
        dropped = pc.sum(ours).as_py() or 0
        return (data.filter(pc.invert(ours)), dropped) if dropped else (data, 0)
    kinds = {name: kind for name, kind in table.columns}
    kinds["_extra"] = Kind.JSON
    columns = {name: data.column(name).to_pylist() for name in data.column_names}
    mine = ours.to_pylist()
    touched = [False] * data.num_rows
    for name, kind in kinds.items():
        if name not in columns or name == "tenant":
            continue
        values = columns[name]
        for row, value in enumerate(values):
            if not mine[row] or value is None:
                continue
            new = _erased_value(kind, value, erasure.replace)
            if new != value:
                values[row] = new
                touched[row] = True
    if table is DEAD_LETTERS and erasure.contacts:
        previews, contact_ids = columns["redacted_preview"], columns["contact_id"]
        for row, contact_id in enumerate(contact_ids):
            if mine[row] and contact_id in erasure.contacts and previews[row] is not None:
                previews[row] = None
                touched[row] = True
    count = sum(touched)
    if not count:
        return data, 0
    arrays = [pa.array(columns[f.name], type=f.type) for f in data.schema]
    return pa.Table.from_arrays(arrays, schema=data.schema), count


def _mentions(table: LakeTable, data: pa.Table, erasure: LakeErasure) -> bool:
    """Whether the file may hold a row to change: a cheap columnar test before the row-wise one."""
    if erasure.drop_tenant:
        return bool(pc.any(pc.equal(data.column("tenant"), erasure.tenant)).as_py())
    values = pa.array(sorted(erasure.replace), type=pa.string())
    kinds = {name: kind for name, kind in table.columns}
    hits = []
    for name, kind in kinds.items():
        if name not in data.column_names:
            continue
        column = data.column(name)
        if kind is Kind.STRING:
            hits.append(pc.any(pc.is_in(column, value_set=values)))
        elif kind is Kind.STRINGS:
            hits.append(pc.any(pc.is_in(pc.list_flatten(column), value_set=values)))
        elif kind is Kind.JSON:
            hits += [pc.any(pc.match_substring(column, old)) for old in erasure.replace]
    if table is DEAD_LETTERS and erasure.contacts:
        contacts = pa.array(sorted(erasure.contacts), type=pa.string())
        hits.append(pc.any(pc.is_in(data.column("contact_id"), value_set=contacts)))
    if "_extra" in data.column_names:
        extra = data.column("_extra")
        hits += [pc.any(pc.match_substring(extra, old)) for old in erasure.replace]
    return any(hit.as_py() for hit in hits)


def _erased_value(kind: Kind, value: object, replace: dict[str, str]) -> object:
    if kind is Kind.STRING:
        return replace.get(value, value)  # type: ignore[arg-type]
    if kind is Kind.STRINGS:
        out: list[str] = []
        for item in value:  # type: ignore[union-attr]
            new = replace.get(item, item)
            if new not in out:  # two identifiers of one customer become one token
                out.append(new)
        return out
    if kind is Kind.JSON and isinstance(value, str):
        for old, new in replace.items():
            if old in value:
                value = value.replace(f'"{old}"', f'"{new}"')
        return value
    return value
