"""Daily partitions shared by every asset, where they start, and the day range a run covers.

Partition D is every tenant's reporting day D: the day D of its own time zone
(``[tenants.NAME] time_zone``, UTC by default; docs/kpis.md, Time zones), so one run over D
refreshes each tenant's local D. ``reporting_days`` says which local days a stretch of time
falls on across the tenants' zones, for the schedules and the sensor.

Every asset has the same partitions and a single-run backfill policy: a backfill of 30 days is
one run over the range, so the warehouse is rebuilt once and each mart recomputes its 30 days
in one statement.

The partitions start at ``[orchestration] partitions_start`` when it is set, else at the first
day that holds data: the first local day of the earliest event time in the lake, else today.
The start is read when Dagster loads the definitions (``orchestration.definitions``), never at
import.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb
from dagster import BackfillPolicy, DailyPartitionsDefinition

from schemas.knob_sets import DEFAULT_TIME_ZONE
from schemas.settings import Settings
from warehouse.landing import day_dirs
from warehouse.tables import EVENTS

SINGLE_RUN = BackfillPolicy.single_run()

# The run tags by which Dagster names the partition range of a single run (they are not
# exported under a public name).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def daily_partitions(start: date, settings: Settings) -> DailyPartitionsDefinition:
    # end_offset=1: today's (UTC) partition exists, for the hourly refresh of the day in
    # progress; 2 when a tenant's zone can be ahead of UTC, whose day in progress may be
    # tomorrow in UTC.
    ahead = any(_can_be_ahead_of_utc(zone) for zone in time_zones(settings))
    return DailyPartitionsDefinition(start_date=start.isoformat(), end_offset=2 if ahead else 1)


def time_zones(settings: Settings) -> list[ZoneInfo]:
    """UTC (the tenants without a ``[tenants]`` table) and every tenant's reporting zone."""
    names = {DEFAULT_TIME_ZONE, *(tenant.time_zone for tenant in settings.tenants.values())}
    return [ZoneInfo(name) for name in sorted(names)]


def reporting_days(settings: Settings, start: datetime, end: datetime) -> tuple[date, date]:
    """The first and last local day that the instants ``start``..``end`` (aware) fall on in any
    tenant's reporting time zone: 31 March 23:30 UTC is 1 April in Paris."""
    days = [
        moment.astimezone(zone).date() for zone in time_zones(settings) for moment in (start, end)
    ]
    return min(days), max(days)


def today(settings: Settings, now: datetime | None = None) -> date:
    """The latest local day in progress among the tenants' zones (the last partition to
    refresh)."""
    now = now or datetime.now(UTC)
    return reporting_days(settings, now, now)[1]


def _can_be_ahead_of_utc(zone: ZoneInfo) -> bool:
    """Whether the zone's offset is positive in winter or in summer (either hemisphere)."""
    return any(
        (datetime(2026, month, 1, tzinfo=zone).utcoffset() or timedelta()) > timedelta()
        for month in (1, 7)
    )


def partitions_start(settings: Settings, today: date | None = None) -> date:
    """The first partition: the configured start, else the first day of the lake's events,
    else today (UTC)."""
    configured = settings.orchestration.partitions_start
    if configured:
        return date.fromisoformat(configured)
    return first_event_day(settings) or today or datetime.now(UTC).date()


def first_event_day(settings: Settings) -> date | None:
    """The first local day, in any tenant's reporting time zone, of the earliest event time in
    the lake (its UTC day when every tenant is in UTC); None when it holds no event."""
    # The lake's day folders are the events' UTC days: the earliest folder that has an event
    # time holds the earliest one, so only its files are read (not the whole history, at
    # every load of the definitions).
    earliest = None
    with duckdb.connect() as con:
        for directory in day_dirs(settings.lake_dir, EVENTS):
            files = [str(p) for p in directory.glob("*.parquet")]
            if files:
                (earliest,) = con.execute(
                    "select min(ts) from read_parquet(?, union_by_name = true)", [files]
                ).fetchone()
            if earliest is not None:
                break
    if earliest is None:
        return None
    moment = datetime.fromtimestamp(earliest, UTC)
    return reporting_days(settings, moment, moment)[0]


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
