"""The Dagster definitions of omnicx: ``dagster dev -m orchestration.definitions``.

This module only assembles what the other modules define. The warehouse resource is configured
from the settings when a step runs (``load_settings``), never at import. Steps run in process,
one after the other: the DuckDB warehouse file has one writer at a time.
"""

from dagster import Definitions, in_process_executor

from orchestration.assets import ASSETS
from orchestration.automation import JOBS, SCHEDULES, SENSORS
from orchestration.checks.asset_checks import CHECKS
from orchestration.resources import WarehouseResource

defs = Definitions(
    assets=ASSETS,
    asset_checks=CHECKS,
    jobs=JOBS,
    schedules=SCHEDULES,
    sensors=SENSORS,
    resources={"warehouse": WarehouseResource()},
    executor=in_process_executor,
)
