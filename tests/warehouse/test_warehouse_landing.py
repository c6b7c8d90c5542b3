"""Landing and compaction without a broker: records to Arrow, file names, atomic files, merges
that readers never see twice, and the sink's manifest, which no foreign file fools."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import duckdb
import orjson
import pyarrow.parquet as pq

from tests.warehouse.lakes import LANDED_MS, FakeRecord, lake_settings, land, land_file
from warehouse import compaction
from warehouse.build import lake_view_sql
from warehouse.compaction import CompactionPolicy, compact_directory
from warehouse.landing import (
    LakeFile,
    day_dirs,
    file_name,
    files_in,
    records_table,
    remove_temp_files,
)
from warehouse.manifest import Entry, PartitionManifest, manifest_path
from warehouse.tables import CONTACT_VERSIONS, EVENTS, LAKE_TABLES, LakeTable

EVENT = {
    "event_id": "e1",
    "event_type": "contact.queued",
    "schema_version": 1,
    "occurred_at": "2026-01-05T09:00:00.000Z",
    "ts": 1767603600.0,
    "tenant": "acme",
    "channel": "voice",
    "contact_id": "c1",
    "queue": "billing",
    "customer_ids": ["phone:ab12"],
    "attributes": {"skill": "billing", "priority": 2},
}


def test_records_become_typed_columns_with_kafka_coordinates() -> None:
    table = records_table(EVENTS, [FakeRecord(3, 41, LANDED_MS, orjson.dumps(EVENT))])

    (row,) = table.to_pylist()
    assert row["event_id"] == "e1"
    assert row["ts"] == 1767603600.0
    assert row["customer_ids"] == ["phone:ab12"]
    assert orjson.loads(row["attributes"]) == {"skill": "billing", "priority": 2}
    assert row["agent_id"] is None
    assert (row["_kafka_partition"], row["_kafka_offset"]) == (3, 41)
    assert row["_kafka_timestamp"].isoformat() == "2026-01-05T09:00:00+00:00"
    assert row["_extra"] is None
    assert table.schema == EVENTS.arrow_schema


def test_unknown_fields_and_values_of_another_type_are_kept_in_extra() -> None:
    odd = {**EVENT, "ts": "yesterday", "customer_ids": "phone:ab12", "shoe_size": 44}
    table = records_table(EVENTS, [FakeRecord(0, 0, LANDED_MS, orjson.dumps(odd))])

    (row,) = table.to_pylist()
    assert row["ts"] is None
    assert row["customer_ids"] is None
    assert row["event_id"] == "e1"
    assert orjson.loads(row["_extra"]) == {
        "shoe_size": 44,
        "ts": "yesterday",
        "customer_ids": "phone:ab12",
    }


def test_numbers_land_only_in_columns_that_hold_them_exactly() -> None:
    contact = {"contact_id": "c1", "tenant": "acme", "channel": "voice"}
    odd = [
        {"transfers": True, "hold_seconds": 3},  # a bool is no integer; an integer is a float
        {"transfers": 1.5, "hold_seconds": 2**60},  # 1.5 is no integer, 2**60 no exact float
        {"transfers": 2**63, "hold_seconds": False},
    ]
    records = [
        FakeRecord(0, i, LANDED_MS, orjson.dumps({**contact, **fields}))
        for i, fields in enumerate(odd)
    ]

    rows = records_table(CONTACT_VERSIONS, records).to_pylist()

    assert [(r["transfers"], r["hold_seconds"]) for r in rows] == [
        (None, 3.0),
        (None, None),
        (None, None),
    ]
    assert [orjson.loads(r["_extra"]) for r in rows] == [
        {"transfers": True},
        {"transfers": 1.5, "hold_seconds": 2**60},
        {"transfers": 2**63, "hold_seconds": False},
    ]


def test_values_that_are_not_json_objects_are_kept_whole_and_tombstones_skipped() -> None:
    records = [
        FakeRecord(0, 0, LANDED_MS, b"\xff not json"),
        FakeRecord(0, 1, LANDED_MS, b"[1, 2]"),
        FakeRecord(0, 2, LANDED_MS, None),
    ]

    rows = records_table(EVENTS, records).to_pylist()

    assert [r["_kafka_offset"] for r in rows] == [0, 1]
    raw = orjson.loads(rows[0]["_extra"])["_raw_base64"]
    assert base64.b64decode(raw) == b"\xff not json"
    assert orjson.loads(rows[1]["_extra"]) == {"_value": [1, 2]}


def test_every_table_lands_and_reads_back_through_its_lake_view(tmp_path: Path) -> None:
    settings = lake_settings(tmp_path)
    for table in LAKE_TABLES:
        key = table.columns[0][0]  # a string column in every table
        land(settings, table, [{key: f"{table.name}-1"}])
    with duckdb.connect() as con:
        for table in LAKE_TABLES:
            con.execute(lake_view_sql(table, settings.lake_dir))
            key = table.columns[0][0]
            rows = con.execute(f'select "{key}", _extra from lake_{table.name}').fetchall()
            assert rows == [(f"{table.name}-1", None)]


def test_a_file_is_named_for_its_offsets_and_lands_whole(tmp_path: Path) -> None:
    settings = lake_settings(tmp_path)
    path = land_file(settings, EVENTS, [EVENT] * 3, partition=2, first_offset=500)

    assert path.name == "p0002-00000000000000000500-00000000000000000502.parquet"
    assert path.parent.name == "day=2026-01-05"
    assert LakeFile.parse(path) == LakeFile(path, 2, 500, 502)
    assert pq.read_table(path).num_rows == 3
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp file left


def test_temp_files_of_a_killed_writer_are_removed_for_its_partition_only(tmp_path: Path) -> None:
    settings = lake_settings(tmp_path)
    kept = land_file(settings, EVENTS, [EVENT], partition=1)
    mine = kept.with_name(file_name(1, 1, 9) + ".123.tmp")
    other = kept.with_name(file_name(2, 1, 9) + ".123.tmp")
    mine.write_bytes(b"PAR1 half")
    other.write_bytes(b"PAR1 half")

    assert remove_temp_files(settings.lake_dir, EVENTS, 1) == 1
    assert not mine.exists()
    assert other.exists() and kept.exists()


def manifest_of(settings, partition: int = 0, table: LakeTable = EVENTS) -> PartitionManifest:
    """The manifest of a sink that wrote every file of the partition now in the lake."""
    manifest = PartitionManifest(
        manifest_path(settings.lake_dir, table, partition),
        settings.lake_dir / table.name,
        partition,
    )
    manifest.added_all(
        [
            Entry(f, pq.read_metadata(f.path).num_rows, f.path.stat().st_size)
            for directory in day_dirs(settings.lake_dir, table)
            for f in files_in(directory, partition)
        ]
    )
    return manifest


def events(n: int, first: int, day: str = "2026-01-05") -> list[dict]:
    return [
        {**EVENT, "event_id": f"e{first + i}", "occurred_at": f"{day}T09:00:00.000Z"}
        for i in range(n)
    ]


def lake_count(settings, table=EVENTS) -> tuple[int, int]:
    """Rows the lake view shows, and distinct offsets among them."""
    with duckdb.connect() as con:
        con.execute(lake_view_sql(table, settings.lake_dir))
        return con.execute(
            f"select count(*), count(distinct _kafka_offset) from lake_{table.name}"
        ).fetchone()


def test_a_run_of_small_files_is_merged_and_its_parts_wait_out_the_grace(tmp_path: Path) -> None:
    settings = lake_settings(tmp_path)
    parts = [land_file(settings, EVENTS, events(10, 10 * i), first_offset=10 * i) for i in range(6)]
    directory = parts[0].parent
    policy = CompactionPolicy(min_files=4, target_rows=1000, grace_seconds=60)
    merged_at = os.stat(parts[-1]).st_mtime + 1

    manifest = manifest_of(settings)

    first = compact_directory(directory, manifest, policy, now=merged_at)

    (merged,) = first.merged
    assert (merged.first, merged.last) == (0, 59)
    assert pq.read_table(merged.path).column("event_id").to_pylist() == [f"e{i}" for i in range(60)]
    assert first.deleted == [] and first.waiting == 6
    assert lake_count(settings) == (60, 60)  # parts and merged file both there, rows once

    mtime = merged.path.stat().st_mtime
    early = compact_directory(directory, manifest, policy, now=mtime + 59)
    late = compact_directory(directory, manifest, policy, now=mtime + 60)

    assert early.deleted == [] and early.waiting == 6
    assert sorted(f.path for f in late.deleted) == sorted(parts)
    assert files_in(directory) == [merged]
    assert lake_count(settings) == (60, 60)


def test_a_merge_streams_its_parts_keeps_each_offset_once_and_unifies_their_columns(
    tmp_path: Path, monkeypatch
) -> None:
    """Parts two sinks wrote over the same offsets, and one of an older schema, merge into one
    file by offset, each offset once, a lost column null; read and written a few rows at a time
    (so that a merge's memory does not grow with its run), in row groups of about that many."""
    monkeypatch.setattr(compaction, "MERGE_CHUNK_ROWS", 8)
    settings = lake_settings(tmp_path)
    land(settings, EVENTS, events(10, 0), first_offset=0)
    land(settings, EVENTS, events(10, 5), first_offset=5)  # a second sink's batch: 5-14
    older = land_file(settings, EVENTS, events(10, 15), first_offset=15)
    pq.write_table(pq.read_table(older).drop_columns(["queue"]), older)
    directory = older.parent

    result = compact_directory(directory, manifest_of(settings), CompactionPolicy(2, 1000, 0), 2e9)

    (merged,) = result.merged
    data = pq.read_table(merged.path)
    assert (merged.first, merged.last) == (0, 24)
    assert data.column("_kafka_offset").to_pylist() == list(range(25))
    assert data.column("event_id").to_pylist() == [f"e{i}" for i in range(25)]
    assert data.column("queue").to_pylist() == ["billing"] * 15 + [None] * 10
    assert data.schema == EVENTS.arrow_schema
    # 8 rows, then the 2 + 3 new + 2 + 8 read until 8 were held, then the last 2
    metadata = pq.ParquetFile(merged.path).metadata
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [8, 15, 2]
    assert lake_count(settings) == (25, 25)


def test_a_merge_interrupted_before_deleting_its_parts_is_finished_by_the_next_pass(
    tmp_path: Path,
) -> None:
    settings = lake_settings(tmp_path)
    for i in range(4):
        land(settings, EVENTS, events(5, 5 * i), first_offset=5 * i)
    # What a crash right after the merged file's rename leaves: the merged file and its parts.
    land(settings, EVENTS, events(20, 0), first_offset=0)
    directory = day_dirs(settings.lake_dir, EVENTS)[0]
    assert lake_count(settings) == (20, 20)

    result = compact_directory(directory, manifest_of(settings), CompactionPolicy(2, 1000, 0), 2e9)

    assert result.merged == [] and len(result.deleted) == 4
    assert [(f.first, f.last) for f in files_in(directory)] == [(0, 19)]


def test_runs_stop_at_large_files_and_at_the_target_size(tmp_path: Path) -> None:
    settings = lake_settings(tmp_path)
    spans = [(0, 3), (4, 7), (8, 107), (108, 111), (112, 115), (116, 119), (120, 123), (124, 127)]
    for first, last in spans:
        land(settings, EVENTS, events(last - first + 1, first), first_offset=first)
    directory = day_dirs(settings.lake_dir, EVENTS)[0]

    result = compact_directory(directory, manifest_of(settings), CompactionPolicy(2, 12, 0), 2e9)

    # (0-3, 4-7) merge; 8-107 is large; 108..127 (20 offsets) splits at the 12-offset target.
    assert [(f.first, f.last) for f in result.merged] == [(0, 7), (108, 119), (120, 127)]
    assert [(f.first, f.last) for f in files_in(directory)] == [
        (0, 7),
        (8, 107),
        (108, 119),
        (120, 127),
    ]
    assert lake_count(settings) == (128, 128)


def test_compaction_only_touches_its_own_partition(tmp_path: Path) -> None:
    settings = lake_settings(tmp_path)
    for i in range(3):
        land(settings, EVENTS, events(2, 2 * i), partition=0, first_offset=2 * i)
        land(settings, EVENTS, events(2, 2 * i), partition=1, first_offset=2 * i)
    directory = day_dirs(settings.lake_dir, EVENTS)[0]

    compact_directory(directory, manifest_of(settings, 1), CompactionPolicy(2, 100, 0), 2e9)

    assert len(files_in(directory, 0)) == 3
    assert [(f.first, f.last) for f in files_in(directory, 1)] == [(0, 5)]


def foreign_file(settings, name: str, source: Path, where: str = "false") -> Path:
    """A Parquet file written into the lake by someone other than the sink (an analyst's
    ``copy ... to``), with the rows of ``source`` matching ``where``."""
    path = source.parent / name
    with duckdb.connect() as con:
        con.execute(
            f"copy (select * from read_parquet('{source}') where {where}) to '{path}' "
            "(format parquet)"
        )
    return path


def quarantined(settings) -> list[str]:
    return sorted(p.name for p in (settings.lake_dir / "_sink" / "quarantine").rglob("*.parquet"))


def test_the_manifest_says_where_each_partition_resumes(tmp_path: Path) -> None:
    settings = lake_settings(tmp_path)
    land(settings, EVENTS, events(10, 0), partition=1, first_offset=0)
    land(settings, EVENTS, events(5, 10, day="2026-01-06"), partition=1, first_offset=10)
    land(settings, EVENTS, events(2, 7), partition=0, first_offset=7)
    directories = day_dirs(settings.lake_dir, EVENTS)

    assert manifest_of(settings, 1).reconcile(directories) == 15
    assert manifest_of(settings, 0).reconcile(directories) == 9
    assert manifest_of(settings, 3).reconcile(directories) is None
    assert [d.name for d in directories] == ["day=2026-01-05", "day=2026-01-06"]


def test_a_file_the_sink_did_not_write_is_quarantined_and_deletes_no_row(tmp_path: Path) -> None:
    settings = lake_settings(tmp_path)
    parts = [land_file(settings, EVENTS, events(10, 10 * i), first_offset=10 * i) for i in range(6)]
    manifest = manifest_of(settings)
    directory = parts[0].parent
    # The attack: an empty file named for offsets 0..999999999, "covering" every part.
    claim = foreign_file(settings, file_name(0, 0, 999_999_999), parts[0])

    resume = manifest.reconcile(day_dirs(settings.lake_dir, EVENTS))
    result = compact_directory(directory, manifest, CompactionPolicy(2, 1000, 0), 2e9)

    assert resume == 60  # not 1,000,000,000
    assert quarantined(settings) == [claim.name]
    assert [(f.first, f.last) for f in result.merged] == [(0, 59)]
    assert lake_count(settings) == (60, 60)
    # One appearing while the sink runs is caught by the next compaction pass, before any merge.
    (merged,) = result.merged
    late = foreign_file(settings, file_name(0, 0, 10**12), merged.path, where="true")
    compact_directory(directory, manifest, CompactionPolicy(2, 1000, 0), 2e9)
    assert not late.exists() and len(quarantined(settings)) == 2
    assert lake_count(settings) == (60, 60)


def test_files_changed_or_lost_since_the_sink_wrote_them_are_landed_again(tmp_path: Path) -> None:
    settings = lake_settings(tmp_path)
    parts = [land_file(settings, EVENTS, events(10, 10 * i), first_offset=10 * i) for i in range(4)]
    manifest = manifest_of(settings)
    changed = foreign_file(settings, "replacement.parquet", parts[1], where="_kafka_offset < 15")
    os.replace(changed, parts[1])
    parts[2].unlink()

    resume = manifest.reconcile(day_dirs(settings.lake_dir, EVENTS))

    assert resume == 10  # the first offset no intact file of the sink holds
    assert quarantined(settings) == [parts[1].name]
    assert sorted(p.name for p in parts[0].parent.glob("*.parquet")) == [
        parts[0].name,
        parts[3].name,
    ]
    # The manifest was rewritten with what is really there: read again, it says the same.
    assert sorted(PartitionManifest(manifest.path, manifest.table_dir, 0).entries) == sorted(
        [parts[0], parts[3]]
    )


def test_a_merge_recorded_but_not_renamed_costs_no_landing_again(tmp_path: Path) -> None:
    settings = lake_settings(tmp_path)
    parts = [land_file(settings, EVENTS, events(10, 10 * i), first_offset=10 * i) for i in range(4)]
    manifest = manifest_of(settings)
    # What a crash between the merged file's manifest record and its rename leaves.
    merged = LakeFile(parts[0].with_name(file_name(0, 0, 39)), 0, 0, 39)
    manifest.added(merged, rows=40, size=12345, parts=tuple(parts))

    resume = PartitionManifest(manifest.path, manifest.table_dir, 0).reconcile(
        day_dirs(settings.lake_dir, EVENTS)
    )

    assert resume == 40
    assert quarantined(settings) == []
    assert lake_count(settings) == (40, 40)
