"""The lake's layout without a broker: rows under their business day, times as instants, a
batch's day files all there or landed again, the lake read by other tools with date pruning,
and an old lake refused until it is rebuilt."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import orjson
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from tests.harness import run_omnicx
from tests.warehouse.lakes import LANDED_MS, FakeRecord, lake_settings, land
from warehouse.compaction import CompactionPolicy, compact_directory
from warehouse.instances import lock_instance
from warehouse.landing import (
    LakeFile,
    by_business_day,
    day_dirs,
    file_name,
    files_in,
    records_table,
)
from warehouse.layout import (
    LAYOUT_VERSION,
    LakeInUse,
    LakeLayoutOutdated,
    check_layout,
    lake_layout,
    rebuild_lake,
)
from warehouse.manifest import Entry, PartitionManifest, manifest_path
from warehouse.sink import LakeSink
from warehouse.tables import (
    ALERTS,
    CONTACT_VERSIONS,
    CUSTOMER_KEYS,
    DEAD_LETTERS,
    EVENTS,
    JOURNEY_VERSIONS,
    TIMESTAMP_TYPE,
)

DAY_MS = 86_400_000


def event(n: int, occurred_at: object) -> dict:
    return {"event_id": f"e{n}", "event_type": "contact.queued", "occurred_at": occurred_at}


def records(values: list[dict], timestamp_ms: int = LANDED_MS) -> list[FakeRecord]:
    return [FakeRecord(0, i, timestamp_ms, orjson.dumps(v)) for i, v in enumerate(values)]


def days_of(table, values: list[dict], timestamp_ms: int = LANDED_MS) -> list[str]:
    data = records_table(table, records(values, timestamp_ms))
    return [d.isoformat() for d in table.business_days(data).to_pylist()]


def test_times_are_instants_and_one_that_does_not_parse_goes_to_extra() -> None:
    values = [
        event(0, "2026-01-05T09:00:00.000Z"),
        event(1, "2026-01-05T10:00:00+02:00"),  # an offset: the same instant in UTC
        event(2, "yesterday"),
        event(3, "2026-01-05T09:00:00"),  # no zone offset: not RFC 3339
        event(4, 1767603600),  # a number: another type than the column's
        event(5, None),
        event(6, "2026-01-05T09:00:00.123456789Z"),  # finer than microseconds: truncated
        event(7, "2026-13-05T09:00:00Z"),  # shaped like a time, but month 13
    ]
    data = records_table(EVENTS, records(values))

    assert data.schema.field("occurred_at").type == TIMESTAMP_TYPE
    assert data.schema.field("_kafka_timestamp").type == pa.timestamp("us", tz="UTC")
    at = [None if t is None else t.isoformat() for t in data.column("occurred_at").to_pylist()]
    assert at == [
        "2026-01-05T09:00:00+00:00",
        "2026-01-05T08:00:00+00:00",
        None,
        None,
        None,
        None,
        "2026-01-05T09:00:00.123456+00:00",
        None,
    ]
    extras = [None if e is None else orjson.loads(e) for e in data.column("_extra").to_pylist()]
    assert extras == [
        None,
        None,
        {"occurred_at": "yesterday"},
        {"occurred_at": "2026-01-05T09:00:00"},
        {"occurred_at": 1767603600},
        None,
        None,
        {"occurred_at": "2026-13-05T09:00:00Z"},
    ]
    assert data.column("_kafka_timestamp")[0].as_py() == datetime(2026, 1, 5, 9, tzinfo=UTC)


def test_each_table_puts_a_row_under_its_own_business_day() -> None:
    # Events (and dead letters, alerts) by their own time, else the Kafka timestamp's day.
    assert days_of(EVENTS, [event(0, "2026-01-03T23:59:59.999Z"), event(1, "bad")]) == [
        "2026-01-03",
        "2026-01-05",
    ]
    assert days_of(DEAD_LETTERS, [{"occurred_at": "2025-12-31T12:00:00Z"}, {}]) == [
        "2025-12-31",
        "2026-01-05",
    ]
    assert days_of(ALERTS, [{"trigger_occurred_at": "2026-01-02T08:00:00Z"}]) == ["2026-01-02"]
    # A contact by its start; without one, its first queueing, else its answer (docs/kpis.md).
    contacts = [
        {"started_at": "2026-01-01T10:00:00Z", "first_queued_at": "2026-01-02T10:00:00Z"},
        {"first_queued_at": "2026-01-02T10:00:00Z", "answered_at": "2026-01-03T10:00:00Z"},
        {"answered_at": "2026-01-03T10:00:00Z"},
        {"ended_at": "2026-01-04T10:00:00Z"},
        {},
    ]
    assert days_of(CONTACT_VERSIONS, contacts) == [
        "2026-01-01",
        "2026-01-02",
        "2026-01-03",
        "2026-01-04",
        "2026-01-05",
    ]
    # A journey by its first contact's start; records without a time of their own by Kafka's.
    assert days_of(JOURNEY_VERSIONS, [{"first_started_at": "2026-01-01T00:00:00Z"}]) == [
        "2026-01-01"
    ]
    assert days_of(CUSTOMER_KEYS, [{"tenant": "acme"}], LANDED_MS + DAY_MS) == ["2026-01-06"]


def test_a_batch_lands_one_file_per_business_day_named_for_the_whole_batch(
    tmp_path: Path,
) -> None:
    settings = lake_settings(tmp_path)
    values = [event(n, f"2026-01-0{5 + n % 3}T09:00:00.000Z") for n in range(9)]

    paths = land(settings, EVENTS, values, partition=2, first_offset=100)

    name = file_name(2, 100, 108)
    assert [(p.parent.name, p.name) for p in paths] == [
        ("day=2026-01-05", name),
        ("day=2026-01-06", name),
        ("day=2026-01-07", name),
    ]
    for offset_in_day, path in enumerate(paths):
        assert LakeFile.parse(path) == LakeFile(path, 2, 100, 108)
        offsets = pq.read_table(path).column("_kafka_offset").to_pylist()
        assert offsets == [100 + n for n in range(9) if n % 3 == offset_in_day]
    # The split keeps every row once, in offset order within its day.
    split = by_business_day(EVENTS, records_table(EVENTS, records(values)))
    assert sum(part.num_rows for _, part in split) == 9


def recorded_batch(settings, values: list[dict], first: int) -> list[Path]:
    """A batch landed and recorded in the manifest as the sink does it."""
    paths = land(settings, EVENTS, values, first_offset=first)
    manifest = manifest_of(settings)
    last = first + len(values) - 1
    manifest.added_all(
        [
            Entry(LakeFile(p, 0, first, last), pq.read_metadata(p).num_rows, p.stat().st_size)
            for p in paths
        ]
    )
    return paths


def manifest_of(settings) -> PartitionManifest:
    return PartitionManifest(
        manifest_path(settings.lake_dir, EVENTS, 0), settings.lake_dir / EVENTS.name, 0
    )


def test_a_batch_whose_day_files_are_not_all_there_is_landed_again_whole(
    tmp_path: Path,
) -> None:
    settings = lake_settings(tmp_path)
    two_days = [event(n, f"2026-01-0{5 + n % 2}T09:00:00.000Z") for n in range(10)]
    earlier = recorded_batch(settings, two_days, 0)
    batch = recorded_batch(settings, two_days, 10)
    # What a crash between the batch's renames leaves: one day's file renamed, the other not
    # (both have the batch's name: one day's file must not pass for the other's).
    batch[1].unlink()

    resume = manifest_of(settings).reconcile(day_dirs(settings.lake_dir, EVENTS))

    assert resume == 10
    assert not batch[0].exists()  # its rows are landed again with the batch: not kept twice
    assert all(p.exists() for p in earlier)
    assert sorted(manifest_of(settings).entries) == sorted(earlier)


def write_old_lake(lake_dir: Path) -> Path:
    """A file as the sink landed it before layout 2 (day of landing, times as text), and its
    manifest (which that sink kept, without a layout marker)."""
    path = lake_dir / "events" / "day=2026-01-05" / file_name(0, 0, 0)
    path.parent.mkdir(parents=True)
    pq.write_table(pa.table({"event_id": ["e0"], "occurred_at": ["2026-01-05T09:00:00Z"]}), path)
    manifest = manifest_path(lake_dir, EVENTS, 0)
    manifest.parent.mkdir(parents=True)
    line = {"op": "add", "path": "day=2026-01-05/" + path.name, "first": 0, "last": 0}
    manifest.write_bytes(orjson.dumps({**line, "rows": 1, "size": path.stat().st_size}) + b"\n")
    return path


def test_an_empty_lake_is_marked_and_an_old_one_refused(tmp_path: Path) -> None:
    empty, old, foreign = tmp_path / "new", tmp_path / "old", tmp_path / "foreign"
    check_layout(empty)
    write_old_lake(old)
    # Parquet files but no sink's manifest: not a lake a sink landed (they get quarantined).
    write_old_lake(foreign)
    shutil.rmtree(foreign / "_sink")

    assert lake_layout(empty) == LAYOUT_VERSION
    assert lake_layout(foreign) is None
    assert lake_layout(old) == 1
    with pytest.raises(LakeLayoutOutdated, match="omnicx sink --rebuild"):
        check_layout(old)
    settings = lake_settings(tmp_path / "home")
    write_old_lake(settings.lake_dir)
    with pytest.raises(LakeLayoutOutdated):
        LakeSink(settings)  # before it joins any group


def test_the_sink_refuses_an_old_lake_in_one_line_and_rebuild_moves_it_aside(
    tmp_path: Path,
) -> None:
    settings = lake_settings(tmp_path / "home")
    old_file = write_old_lake(settings.lake_dir)

    refused = run_omnicx(settings, "sink")

    assert refused.returncode == 1
    (line,) = refused.stderr.splitlines()
    assert line.startswith("error: the lake at ") and "`omnicx sink --rebuild`" in line
    assert old_file.exists()  # refused, untouched

    # While a sink runs on the lake, it is not moved.
    running = lock_instance(settings.lake_dir, "omnicx-sink", "busy")
    try:
        with pytest.raises(LakeInUse, match="omnicx-sink/busy"):
            rebuild_lake(settings.lake_dir)
    finally:
        running.release()
    moved = rebuild_lake(settings.lake_dir, now=datetime(2026, 1, 6, 12, tzinfo=UTC))

    assert moved == settings.lake_dir.with_name("lake.layout1-20260106T120000Z")
    assert (moved / old_file.relative_to(settings.lake_dir)).exists()
    assert lake_layout(settings.lake_dir) == LAYOUT_VERSION
    assert not any(settings.lake_dir.glob("*/day=*"))
    check_layout(settings.lake_dir)  # the sink now starts on it


def test_other_tools_read_the_lake_by_day_and_prune_the_other_days(tmp_path: Path) -> None:
    settings = lake_settings(tmp_path)
    for batch in range(3):
        values = [event(10 * batch + n, f"2026-01-0{5 + n % 3}T0{n}:00:00.000Z") for n in range(10)]
        land(settings, EVENTS, values, first_offset=10 * batch)
    root = settings.lake_dir / EVENTS.name
    wanted = date(2026, 1, 6)

    days = ds.partitioning(pa.schema([("day", pa.date32())]), flavor="hive")
    dataset = ds.dataset(root, format="parquet", partitioning=days)
    day_filter = ds.field("day") == pa.scalar(wanted, pa.date32())
    fragments = list(dataset.get_fragments(filter=day_filter))
    table = dataset.to_table(filter=day_filter)

    assert len(list(dataset.get_fragments())) == 9
    # The same with the day read as text (partitioning="hive" infers no dates).
    as_text = ds.dataset(root, format="parquet", partitioning="hive")
    assert len(list(as_text.get_fragments(filter=ds.field("day") == "2026-01-06"))) == 3
    assert [Path(f.path).parent.name for f in fragments] == ["day=2026-01-06"] * 3
    assert table.num_rows == 9
    assert table.schema.field("occurred_at").type == pa.timestamp("us", tz="UTC")
    assert {t.date() for t in table.column("occurred_at").to_pylist()} == {wanted}

    frame = (
        pl.scan_parquet(root / "**" / "*.parquet", hive_partitioning=True)
        .filter(pl.col("day") == wanted)
        .collect()
    )
    assert frame.schema["occurred_at"] == pl.Datetime("us", "UTC")
    assert frame.schema["_kafka_timestamp"] == pl.Datetime("us", "UTC")
    assert sorted(frame["event_id"].to_list()) == sorted(table.column("event_id").to_pylist())
    assert frame.height == 9


def test_compaction_merges_a_days_files_and_leaves_the_other_days_alone(tmp_path: Path) -> None:
    settings = lake_settings(tmp_path)
    # Four batches: three with rows of day 5 and day 6, one (offsets 20-29) of day 6 only.
    for first, days in ((0, (5, 6)), (10, (5, 6)), (20, (6,)), (30, (5, 6))):
        values = [event(first + n, f"2026-01-0{days[n % len(days)]}T09:00:00Z") for n in range(10)]
        recorded_batch(settings, values, first)
    day5, day6 = day_dirs(settings.lake_dir, EVENTS)
    manifest = manifest_of(settings)

    merged = compact_directory(day5, manifest, CompactionPolicy(3, 1000, 0), 2e9)

    # The day's files of batches 0, 10 and 30 are one file named for 0-39, holding its 15 rows.
    assert [(f.first, f.last) for f in merged.merged] == [(0, 39)]
    assert [(f.first, f.last) for f in files_in(day5)] == [(0, 39)]
    assert pq.read_table(merged.merged[0].path).num_rows == 15
    assert len(files_in(day6)) == 4  # another directory: untouched, never "covered"
    resume = PartitionManifest(manifest.path, manifest.table_dir, 0).reconcile([day5, day6])
    assert resume == 40
    rows = ds.dataset(settings.lake_dir / EVENTS.name, format="parquet").to_table()
    assert sorted(rows.column("_kafka_offset").to_pylist()) == list(range(40))
