"""``omnicx refresh --follow``: the ``new_lake_data`` sensor's refreshes, run by one process that
stays up, so that a run costs the refresh alone.

The Dagster daemon launches each run of the sensor in a new process, which imports Dagster,
Great Expectations and pandas and loads the definitions before the refresh starts: 11.5 s on
the development machine, more than a one-day refresh of 30 days itself (9.3 s;
docs/performance.md). This loop pays for them once. Every ``every_seconds`` it looks for lake
files newer than the newest it saw (``landed_since``) and refreshes the partitions the sensor
would (``days_of_landed``), in one Dagster run recorded in the instance the UI shows
(``run_refresh``). Its first look sees every file, so it refreshes the lake's whole range once,
as the sensor's first evaluation does. A failed run is reported and not retried: the next files
that land refresh their days again, as with the sensor.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from orchestration.automation import days_of_landed, landed_since
from orchestration.commands.refresh import run_refresh
from orchestration.partitions import partitions_start, today
from schemas.settings import Settings

if TYPE_CHECKING:
    from dagster import ExecuteInProcessResult


@dataclass(frozen=True)
class FollowedRun:
    first: date
    last: date
    result: ExecuteInProcessResult
    seconds: float


def refresh_landed(
    settings: Settings, config_file: Path | None, seen: float
) -> tuple[float, FollowedRun | None]:
    """Refresh the partitions of the lake files modified after ``seen`` (an mtime); the newest
    mtime seen now, and the run (None when no file is newer or no partition has its days)."""
    newest, days = landed_since(settings.lake_dir, seen)
    if not days:
        return seen, None
    now = today(settings)
    first, last = days_of_landed(settings, days, partitions_start(settings, now))
    if first > last:
        return newest, None
    started = time.perf_counter()
    result = run_refresh(settings, first, last, config_file)
    return newest, FollowedRun(first, last, result, time.perf_counter() - started)


def follow(
    settings: Settings,
    config_file: Path | None,
    every_seconds: float,
    stop: threading.Event,
    on_run: Callable[[FollowedRun], None],
) -> None:
    """Refresh what landed, then every ``every_seconds``, until ``stop`` is set (a run under
    way finishes first)."""
    seen = 0.0
    while not stop.is_set():
        seen, run = refresh_landed(settings, config_file, seen)
        if run is not None:
            on_run(run)
        stop.wait(every_seconds)
