"""Hand-made lakes for the warehouse tests: records written as the sink writes them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from schemas.settings import Settings
from tests.pii import keyed_settings
from warehouse.landing import lake_file_path, landing_day, records_table, write_atomically
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
) -> Path:
    """One lake file holding ``values`` at consecutive offsets; its path."""
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
    path = lake_file_path(
        settings.lake_dir, table, landing_day(timestamp_ms), partition, first_offset, last
    )
    write_atomically(records_table(table, records), path)
    return path
