"""Jobs (selections over the asset graph), the schedules and the new-data sensor.

- ``refresh``: the warehouse views, every check and the marts; ``omnicx refresh`` runs it too.
- ``validate``: the views and their checks only (look at new data without publishing KPIs).
- ``hourly_refresh``: today's partition (UTC) at minute 5 of every hour.
- ``daily_close``: at 00:30 UTC, the day that just ended and the repeat window before it: a
  contact of that day can join a journey started up to W days earlier, which changes the
  resolution KPIs of the journey's first day.
- ``new_lake_data``: when files newer than the last seen landed in the lake, the days of those
  files (their ``day=`` folders: business days) and the day before each (a contact version
  without its start lands under a later time's day).
"""

import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    RunRequest,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SkipReason,
    define_asset_job,
    schedule,
    sensor,
)

from orchestration.partitions import clamp_to_partitions, first_partition, range_tags
from orchestration.reports.assets import REPORT_GROUP
from orchestration.resources import WarehouseResource

# The reports (orchestration.reports.assets) have partitions of their own and jobs of their own.
WAREHOUSE_ASSETS = AssetSelection.all() - AssetSelection.groups(REPORT_GROUP)
REFRESH = define_asset_job(
    "refresh",
    selection=WAREHOUSE_ASSETS,
    description="Rebuild the warehouse views, check them, and refresh the KPI and churn marts.",
)
VALIDATE = define_asset_job(
    "validate",
    selection=AssetSelection.groups("staging", "intermediate"),
    description="Rebuild the warehouse views and run their checks, without touching the marts.",
)


@schedule(
    job=REFRESH,
    cron_schedule="5 * * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.STOPPED,
    description="Minute 5 of every hour (UTC): refresh today's partition, the day in progress.",
)
def hourly_refresh(context: ScheduleEvaluationContext) -> RunRequest:
    """Refresh today's partition (UTC)."""
    today = context.scheduled_execution_time.astimezone(UTC).date()
    return RunRequest(partition_key=today.isoformat())


@schedule(
    job=REFRESH,
    cron_schedule="30 0 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.STOPPED,
    description="00:30 UTC: refresh the day that ended and the KPI repeat window before it "
    "(a late repeat changes the resolution KPIs of its journey's first day).",
)
def daily_close(context: ScheduleEvaluationContext, warehouse: WarehouseResource) -> RunRequest:
    """Refresh the day that ended and the repeat window before it."""
    today = context.scheduled_execution_time.astimezone(UTC).date()
    closed = today - timedelta(days=1)
    window_days = math.ceil(warehouse.settings().kpis.repeat_window_days)
    first, last = clamp_to_partitions(
        closed - timedelta(days=window_days), closed, _first_partition(context), today
    )
    return RunRequest(tags=range_tags(first, last))


@sensor(
    job=REFRESH,
    minimum_interval_seconds=60,
    description="Every minute: when lake files landed since the last evaluation, refresh their "
    "business days and the day before each (a contact version without its start lands under a "
    "later time's day).",
)
def new_lake_data(
    context: SensorEvaluationContext, warehouse: WarehouseResource
) -> RunRequest | SkipReason:
    """Refresh the days of the lake files that landed since the last evaluation (cursor: the
    newest modification time seen)."""
    seen = float(context.cursor) if context.cursor else 0.0
    newest, days = landed_since(warehouse.settings().lake_dir, seen)
    if not days:
        return SkipReason(f"no lake file newer than {seen}")
    context.update_cursor(repr(newest))
    first, last = clamp_to_partitions(
        min(days) - timedelta(days=1),
        max(days),
        _first_partition(context),
        datetime.now(UTC).date(),
    )
    return RunRequest(run_key=f"lake-{newest!r}", tags=range_tags(first, last))


def _first_partition(context: ScheduleEvaluationContext | SensorEvaluationContext) -> date:
    """The first partition of the loaded definitions (the partitions start is read when Dagster
    loads them: orchestration.definitions)."""
    return first_partition(context.repository_def.get_job(REFRESH.name).partitions_def)


def landed_since(lake_dir: Path, seen: float) -> tuple[float, set[date]]:
    """The newest modification time of the lake's Parquet files, and the business days
    (``<table>/day=YYYY-MM-DD/``) of the files modified after ``seen``."""
    newest = seen
    days: set[date] = set()
    for path in lake_dir.glob("*/day=*/*.parquet"):
        modified = path.stat().st_mtime
        if modified > seen:
            days.add(date.fromisoformat(path.parent.name.removeprefix("day=")))
            newest = max(newest, modified)
    return newest, days


JOBS = [REFRESH, VALIDATE]
SCHEDULES = [hourly_refresh, daily_close]
SENSORS = [new_lake_data]
