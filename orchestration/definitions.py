"""The Dagster definitions of omnicx: ``dagster dev -m orchestration.definitions`` (``dg`` is not
a dependency: docs/orchestration.md).

``defs`` is loaded lazily (``@definitions``): Dagster calls it when it loads the code location,
which reads the settings (``load_settings``) and the first day of the lake's events to start the
daily partitions (``orchestration.partitions``); nothing is read at import. ``omnicx refresh``
builds the same definitions with ``build_definitions(settings)``. Steps run in process, one
after the other: the DuckDB warehouse file has one writer at a time.
"""

from __future__ import annotations

from dagster import Definitions, definitions, in_process_executor

from orchestration.assets import build_assets
from orchestration.automation import JOBS, SCHEDULES, SENSORS
from orchestration.checks.asset_checks import CHECKS
from orchestration.partitions import daily_partitions, partitions_start
from orchestration.planning_assets import build_planning_assets
from orchestration.reports.assets import JOBS as REPORT_JOBS
from orchestration.reports.assets import REPORT_GROUP, report_definitions
from orchestration.resources import ValidationResource, WarehouseResource
from orchestration.retention import RETENTION_SCHEDULE, retention
from schemas.settings import Settings, load_settings


def build_definitions(settings: Settings) -> Definitions:
    """Every asset, check, job, schedule and sensor, partitioned from the settings' start."""
    start = partitions_start(settings)
    report_assets, report_schedules = report_definitions(settings, start)
    partitions = daily_partitions(start, settings)
    return Definitions(
        assets=[
            *build_assets(partitions, settings),
            *build_planning_assets(partitions, settings),
            *report_assets,
        ],
        asset_checks=CHECKS,
        jobs=[*JOBS, *REPORT_JOBS, retention],
        schedules=[*SCHEDULES, *report_schedules, RETENTION_SCHEDULE],
        sensors=SENSORS,
        resources={"warehouse": WarehouseResource(), "validation": ValidationResource()},
        executor=in_process_executor,
    )


def warehouse_asset_names(defs: Definitions) -> set[str]:
    """The assets the refresh job materializes: every asset but the reports'."""
    graph = defs.resolve_asset_graph()
    return {
        key.to_user_string()
        for key in graph.get_all_asset_keys()
        if graph.get(key).group_name != REPORT_GROUP
    }


@definitions
def defs() -> Definitions:
    return build_definitions(load_settings())
