"""Jobs (selections over the asset graph), the schedules and the new-data sensor.

- ``refresh``: the warehouse views, every check and the marts; ``omnicx refresh`` runs it too.
- ``validate``: the views and their checks only (look at new data without publishing KPIs).
- ``hourly_refresh``: today's partition at minute 5 of every hour: the day in progress in each
  tenant's reporting time zone (two partitions when the zones are on different days).
- ``daily_close``: at minute 30 of every hour, the days that ended in the last hour in some
  tenant's zone (00:30 UTC for a UTC tenant, 22:30 UTC in summer for Paris) and the repeat
  window before them: a contact of that day can join a journey started up to W days earlier,
  which changes the resolution KPIs of the journey's first day.
- ``new_lake_data``: when files newer than the last seen landed in the lake, the local days of
  those files (their ``day=`` folders are UTC days, which fall on one or two local days of each
  tenant's zone) and the day before (a contact version without its start lands under a later
  time's day): one run per span of consecutive such days, so that files of January and of
  today (a replay of January lands customer keys under today) refresh those days, not the
  months between.

Partition D is every tenant's local day D (``orchestration.partitions``).
"""

import math
from datetime import UTC, date, datetime, time, timedelta
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

from orchestration.partitions import (
    clamp_to_partitions,
    first_partition,
    range_tags,
    reporting_days,
    time_zones,
    today,
)
from orchestration.reports.assets import REPORT_GROUP
from orchestration.resources import WarehouseResource
from schemas.settings import Settings

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
    description="Minute 5 of every hour: refresh today's partition, the day in progress in "
    "each tenant's reporting time zone.",
)
def hourly_refresh(context: ScheduleEvaluationContext, warehouse: WarehouseResource) -> RunRequest:
    """Refresh the day in progress of every tenant's zone (one partition, or two)."""
    now = context.scheduled_execution_time.astimezone(UTC)
    first, last = reporting_days(warehouse.settings(), now, now)
    if first == last:
        return RunRequest(partition_key=first.isoformat())
    return RunRequest(tags=range_tags(first, last))


@schedule(
    job=REFRESH,
    cron_schedule="30 * * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.STOPPED,
    description="Minute 30 of every hour: refresh the days that ended in the last hour in some "
    "tenant's reporting time zone (00:30 UTC in UTC) and the KPI repeat window before them "
    "(a late repeat changes the resolution KPIs of its journey's first day).",
)
def daily_close(
    context: ScheduleEvaluationContext, warehouse: WarehouseResource
) -> RunRequest | SkipReason:
    """Refresh the days that ended in the last hour and the repeat window before them."""
    settings = warehouse.settings()
    now = context.scheduled_execution_time.astimezone(UTC)
    local_nows = [now.astimezone(zone) for zone in time_zones(settings)]
    closed = [n.date() - timedelta(days=1) for n in local_nows if n.time() < time(1)]
    if not closed:
        return SkipReason(f"no tenant's day ended in the hour before {now:%H:%M} UTC")
    window_days = math.ceil(settings.kpis.repeat_window_days)
    first, last = clamp_to_partitions(
        min(closed) - timedelta(days=window_days),
        max(closed),
        _first_partition(context),
        today(settings, now),
    )
    return RunRequest(tags=range_tags(first, last))


@sensor(
    job=REFRESH,
    minimum_interval_seconds=60,
    description="Every minute: when lake files landed since the last evaluation, refresh the "
    "tenants' local days of their business days (UTC) and the day before each (a contact "
    "version without its start lands under a later time's day).",
)
def new_lake_data(
    context: SensorEvaluationContext, warehouse: WarehouseResource
) -> list[RunRequest] | SkipReason:
    """Refresh the days of the lake files that landed since the last evaluation (cursor: the
    newest modification time seen), a run per span of consecutive days."""
    settings = warehouse.settings()
    seen = float(context.cursor) if context.cursor else 0.0
    newest, days = landed_since(settings.lake_dir, seen)
    if not days:
        return SkipReason(f"no lake file newer than {seen}")
    context.update_cursor(repr(newest))
    return [
        RunRequest(run_key=f"lake-{newest!r}-{first}", tags=range_tags(first, last))
        for first, last in spans_of_landed(settings, days, _first_partition(context))
    ]


def spans_of_landed(
    settings: Settings, days: set[date], first_partition: date
) -> list[tuple[date, date]]:
    """The partitions to refresh for lake files of the business ``days`` (UTC), as spans of
    consecutive days in order: for each day, the tenants' local days from its start to its end
    and the day before (a contact version without its start lands under a later time's day),
    within the partitions; ranges that overlap or touch make one span."""
    spans: list[tuple[date, date]] = []
    for day in sorted(days):
        start = datetime.combine(day, time(), UTC)
        first, last = reporting_days(settings, start, datetime.combine(day, time.max, UTC))
        first -= timedelta(days=1)
        if spans and first <= spans[-1][1] + timedelta(days=1):
            spans[-1] = (spans[-1][0], max(spans[-1][1], last))
        else:
            spans.append((first, last))
    now = today(settings)
    clamped = [clamp_to_partitions(first, last, first_partition, now) for first, last in spans]
    return [(first, last) for first, last in clamped if first <= last]


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
