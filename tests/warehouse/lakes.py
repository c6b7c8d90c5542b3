"""Hand-made lakes for the warehouse tests: records written as the sink writes them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from schemas.settings import Settings
from tests.pii import keyed_settings
from warehouse.landing import (
    by_business_day,
    lake_file_path,
    records_table,
    write_all_atomically,
)
from warehouse.tables import LakeTable

# 2026-01-05T09:00:00Z in epoch milliseconds: the Kafka timestamp of hand-made records.
LANDED_MS = 1_767_603_600_000


@dataclass(frozen=True)
class FakeRecord:
    """A consumed Kafka message, as much of it as the lake needs."""

    partition: int
    offset: int
    timestamp: int
    value: bytes | None


def lake_settings(home: Path) -> Settings:
    return keyed_settings(home=home)


def land(
    settings: Settings,
    table: LakeTable,
    values: list[dict[str, Any] | bytes | None],
    *,
    partition: int = 0,
    first_offset: int = 0,
    timestamp_ms: int = LANDED_MS,
) -> list[Path]:
    """``values`` at consecutive offsets, landed as the sink lands one batch (a file per
    business day); the files' paths, by day."""
    records = [
        FakeRecord(
            partition,
            first_offset + i,
            timestamp_ms + i,
            v if v is None or isinstance(v, bytes) else orjson.dumps(v),
        )
        for i, v in enumerate(values)
    ]
    last = first_offset + len(values) - 1
    files = [
        (rows, lake_file_path(settings.lake_dir, table, day, partition, first_offset, last))
        for day, rows in by_business_day(table, records_table(table, records))
    ]
    write_all_atomically(files)
    return [path for _, path in files]


def land_file(settings: Settings, table: LakeTable, values: list, **where: Any) -> Path:
    """``land`` for values of one business day: the one file's path."""
    (path,) = land(settings, table, values, **where)
    return path
