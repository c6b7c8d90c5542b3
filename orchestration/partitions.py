"""Daily partitions (UTC days) shared by every asset, and the day range a run covers.

Every asset has the same partitions and a single-run backfill policy: a backfill of 30 days is
one run over the range, so the warehouse is rebuilt once and each mart recomputes its 30 days
in one statement.
"""

from __future__ import annotations

from datetime import date

from dagster import BackfillPolicy, DailyPartitionsDefinition

# end_offset=1: today's partition exists, for the hourly refresh of the day in progress.
DAILY = DailyPartitionsDefinition(start_date="2024-01-01", end_offset=1)
SINGLE_RUN = BackfillPolicy.single_run()

# The run tags by which Dagster names the partition range of a single run (they are not
# exported under a public name).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


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


def clamp_to_partitions(date_from: date, date_to: date, today: date) -> tuple[date, date]:
    """The part of a day range that has partitions (from the start date through ``today``)."""
    first = date.fromisoformat(DAILY.start.strftime("%Y-%m-%d"))
    return max(date_from, first), min(date_to, today)
