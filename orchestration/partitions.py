"""Daily partitions (UTC days) shared by every asset, where they start, and the day range a run
covers.

Every asset has the same partitions and a single-run backfill policy: a backfill of 30 days is
one run over the range, so the warehouse is rebuilt once and each mart recomputes its 30 days
in one statement.

The partitions start at ``[orchestration] partitions_start`` when it is set, else at the first
day that holds data: the UTC day of the earliest event time in the lake, else today. The start is read when Dagster loads the
definitions (``orchestration.definitions``), never at import.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import duckdb
from dagster import BackfillPolicy, DailyPartitionsDefinition

from schemas.settings import Settings
from warehouse.build import lake_view_sql
from warehouse.tables import EVENTS

SINGLE_RUN = BackfillPolicy.single_run()

# The run tags by which Dagster names the partition range of a single run (they are not
# exported under a public name).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def daily_partitions(start: date) -> DailyPartitionsDefinition:
    # end_offset=1: today's partition exists, for the hourly refresh of the day in progress.
    return DailyPartitionsDefinition(start_date=start.isoformat(), end_offset=1)


def partitions_start(settings: Settings, today: date | None = None) -> date:
    """The first partition: the configured start, else the first day of the lake's events,
    else today (UTC)."""
    configured = settings.orchestration.partitions_start
    if configured:
        return date.fromisoformat(configured)
    return first_event_day(settings) or today or datetime.now(UTC).date()


def first_event_day(settings: Settings) -> date | None:
    """The UTC day of the earliest event time in the lake; None when it holds no event."""
    with duckdb.connect() as con:
        con.execute(lake_view_sql(EVENTS, settings.lake_dir))
        (earliest,) = con.execute(f"select min(ts) from lake_{EVENTS.name}").fetchone()
    return None if earliest is None else datetime.fromtimestamp(earliest, UTC).date()


def first_partition(partitions: DailyPartitionsDefinition) -> date:
    return partitions.start.date()


def partition_days(context) -> tuple[date, date]:
    """First and last day (inclusive) of the run of an asset or asset-check context."""
    if context.has_partition_key_range:
        keys = context.partition_key_range
        return date.fromisoformat(keys.start), date.fromisoformat(keys.end)
    if context.has_partition_key:
        day = date.fromisoformat(context.partition_key)
        return day, day
    raise ValueError("this run has no partition: every omnicx asset is partitioned by day")


def range_tags(date_from: date, date_to: date) -> dict[str, str]:
    """The tags of a run over the partitions ``date_from``..``date_to``."""
    return {RANGE_START_TAG: date_from.isoformat(), RANGE_END_TAG: date_to.isoformat()}


def clamp_to_partitions(
    date_from: date, date_to: date, first: date, today: date
) -> tuple[date, date]:
    """The part of a day range that has partitions (from ``first`` through ``today``)."""
    return max(date_from, first), min(date_to, today)
