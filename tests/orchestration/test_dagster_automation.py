"""The schedules and the new-data sensor: which partitions they ask the refresh job to run."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime

from dagster import SkipReason, build_schedule_context, build_sensor_context

from orchestration.automation import daily_close, hourly_refresh, new_lake_data, spans_of_landed
from orchestration.definitions import build_definitions
from orchestration.partitions import RANGE_END_TAG, RANGE_START_TAG
from orchestration.resources import WarehouseResource
from schemas.settings import with_overrides
from tests.warehouse.kpi_fixtures import handled_call, settings, write_lake

DEFS = build_definitions(
    with_overrides(settings(), orchestration={"partitions_start": "2024-01-01"})
)


def test_the_hourly_refresh_runs_todays_partition(tmp_path):
    context = build_schedule_context(
        scheduled_execution_time=datetime(2026, 1, 6, 10, 5, tzinfo=UTC),
        resources={"warehouse": WarehouseResource(home=str(tmp_path))},
        repository_def=DEFS.get_repository_def(),
    )
    request = hourly_refresh.evaluate_tick(context).run_requests[0]
    assert request.partition_key == "2026-01-06"


def paris(tmp_path) -> dict:
    """Resources whose settings put tenant acme in Europe/Paris (CEST, UTC+2, from 29 March)."""
    config = tmp_path / "omnicx.toml"
    config.write_text('[tenants.acme]\ntime_zone = "Europe/Paris"\n')
    return {"warehouse": WarehouseResource(config_file=str(config), home=str(tmp_path))}


def test_the_hourly_refresh_runs_the_day_in_progress_of_every_tenants_zone(tmp_path):
    # 23:05 UTC on 31 March: 01:05 on 1 April in Paris, still 31 March in UTC
    context = build_schedule_context(
        scheduled_execution_time=datetime(2026, 3, 31, 23, 5, tzinfo=UTC),
        resources=paris(tmp_path),
        repository_def=DEFS.get_repository_def(),
    )
    (request,) = hourly_refresh.evaluate_tick(context).run_requests
    assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == (
        "2026-03-31",
        "2026-04-01",
    )


def test_the_daily_close_runs_when_a_tenants_local_day_ended(tmp_path):
    def tick(hour: int, minute: int = 30):
        context = build_schedule_context(
            scheduled_execution_time=datetime(2026, 3, 31, hour, minute, tzinfo=UTC),
            resources=paris(tmp_path),
            repository_def=DEFS.get_repository_def(),
        )
        return daily_close.evaluate_tick(context)

    # 22:30 UTC is 00:30 in Paris: its 31 March ended, and the 7-day repeat window before it
    (request,) = tick(22).run_requests
    assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == (
        "2026-03-24",
        "2026-03-31",
    )
    # at 00:30 UTC the UTC tenants' 30 March ended
    (request,) = tick(0).run_requests
    assert request.tags[RANGE_END_TAG] == "2026-03-30"
    # at 10:30 UTC no tenant's day ended in the last hour
    assert tick(10).run_requests == []


def test_the_daily_close_runs_the_day_that_ended_and_the_repeat_window_before_it(tmp_path):
    config = tmp_path / "omnicx.toml"
    config.write_text("[kpis]\nrepeat_window_days = 2.5\n")
    context = build_schedule_context(
        scheduled_execution_time=datetime(2026, 1, 10, 0, 30, tzinfo=UTC),
        resources={"warehouse": WarehouseResource(config_file=str(config), home=str(tmp_path))},
        repository_def=DEFS.get_repository_def(),
    )
    (request,) = daily_close.evaluate_tick(context).run_requests
    # 2.5 days round up to 3 days before the closed day, 9 January
    assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == (
        "2026-01-06",
        "2026-01-09",
    )


def test_the_sensor_asks_for_the_landing_days_of_new_lake_files(tmp_path):
    knobs = with_overrides(settings(), home=tmp_path)
    lake = knobs.lake_dir
    write_lake(knobs, [handled_call("a", "2026-01-05T09:00:00")])
    for path in lake.rglob("*.parquet"):
        os.utime(path, (1_000.0, 1_000.0))
    resources = {"warehouse": WarehouseResource(home=str(tmp_path))}

    first = build_sensor_context(cursor=None, resources=resources, definitions=DEFS)
    (request,) = new_lake_data(first)
    assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == (
        "2026-01-04",
        "2026-01-05",
    )
    # a Paris tenant's local days of the UTC day 5 January run to 6 January (00:00-00:59 CET)
    in_paris = build_sensor_context(cursor=None, resources=paris(tmp_path), definitions=DEFS)
    (request,) = new_lake_data(in_paris)
    assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == (
        "2026-01-04",
        "2026-01-06",
    )
    assert first.cursor == repr(1_000.0)

    unchanged = build_sensor_context(cursor=first.cursor, resources=resources, definitions=DEFS)
    assert isinstance(new_lake_data(unchanged), SkipReason)

    write_lake(knobs, [handled_call("b", "2026-01-07T09:00:00", customer=None)], partition=1)
    for path in lake.rglob("p0001-*.parquet"):
        os.utime(path, (2_000.0, 2_000.0))
    later = build_sensor_context(cursor=first.cursor, resources=resources, definitions=DEFS)
    (request,) = new_lake_data(later)
    assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == (
        "2026-01-06",
        "2026-01-07",
    )
    assert request.run_key == f"lake-{2_000.0!r}-2026-01-06"


def test_files_of_days_apart_refresh_each_span_not_the_days_between(tmp_path):
    knobs = with_overrides(settings(), home=tmp_path)
    # a replay of January lands its customer keys under the day of the replay (2 March here)
    write_lake(knobs, [handled_call("a", "2026-01-05T09:00:00")])
    write_lake(knobs, [handled_call("b", "2026-03-02T09:00:00")], partition=1)
    resources = {"warehouse": WarehouseResource(home=str(tmp_path))}
    requests = new_lake_data(build_sensor_context(resources=resources, definitions=DEFS))
    assert [(r.tags[RANGE_START_TAG], r.tags[RANGE_END_TAG]) for r in requests] == [
        ("2026-01-04", "2026-01-05"),
        ("2026-03-01", "2026-03-02"),
    ]
    assert len({r.run_key for r in requests}) == 2


def test_spans_join_days_that_touch_and_start_at_the_first_partition() -> None:
    days = {date(2026, 1, 5), date(2026, 1, 6), date(2026, 1, 8), date(2026, 3, 2)}
    # each day and the day before: 4-6 and 7-8 January touch, so they are one span
    assert spans_of_landed(settings(), days, date(2026, 1, 1)) == [
        (date(2026, 1, 4), date(2026, 1, 8)),
        (date(2026, 3, 1), date(2026, 3, 2)),
    ]
    assert spans_of_landed(settings(), days, date(2026, 2, 1)) == [
        (date(2026, 3, 1), date(2026, 3, 2))
    ]


def test_the_sensor_and_the_daily_close_ask_for_no_day_before_the_first_partition(tmp_path):
    knobs = with_overrides(settings(), home=tmp_path)
    write_lake(knobs, [handled_call("a", "2026-01-05T09:00:00")])
    # the partitions start at the lake's first event day, 5 January
    defs = build_definitions(knobs)
    resources = {"warehouse": WarehouseResource(home=str(tmp_path))}
    (request,) = new_lake_data(
        build_sensor_context(cursor=None, resources=resources, definitions=defs)
    )
    assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == (
        "2026-01-05",
        "2026-01-05",
    )
    context = build_schedule_context(
        scheduled_execution_time=datetime(2026, 1, 7, 0, 30, tzinfo=UTC),
        resources=resources,
        repository_def=defs.get_repository_def(),
    )
    (request,) = daily_close.evaluate_tick(context).run_requests
    assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == (
        "2026-01-05",
        "2026-01-06",
    )
