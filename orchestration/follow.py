"""``omnicx refresh --follow``: the ``new_lake_data`` sensor's refreshes, run by one process that
stays up, so that a run costs the refresh alone.

The Dagster daemon launches each run of the sensor in a new process, which imports Dagster,
Great Expectations and pandas and loads the definitions before the refresh starts: 11.5 s on
the development machine, more than a one-day refresh of 30 days itself (9.3 s;
docs/performance.md). This loop pays for them once. Every ``every_seconds`` it looks for lake
files newer than the newest it saw (``landed_since``) and refreshes the partitions the sensor
would (``spans_of_landed``), a Dagster run per span of consecutive days, recorded in the
instance the UI shows (``run_refresh``). Its first look sees every file, so it refreshes every
day of the lake once, as the sensor's first evaluation does. A failed run is reported and not
retried: the next files that land refresh their days again, as with the sensor.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from orchestration.automation import landed_since, spans_of_landed
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
    settings: Settings,
    config_file: Path | None,
    seen: float,
    on_run: Callable[[FollowedRun], None] | None = None,
) -> tuple[float, list[FollowedRun]]:
    """Refresh the partitions of the lake files modified after ``seen`` (an mtime), a run per
    span of days, each shown to ``on_run`` as it ends; the newest mtime seen now, and the runs
    (none when no file is newer or no partition has its days)."""
    newest, days = landed_since(settings.lake_dir, seen)
    if not days:
        return seen, []
    runs = []
    for first, last in spans_of_landed(settings, days, partitions_start(settings, today(settings))):
        started = time.perf_counter()
        result = run_refresh(settings, first, last, config_file)
        runs.append(FollowedRun(first, last, result, time.perf_counter() - started))
        if on_run is not None:
            on_run(runs[-1])
    return newest, runs


def follow(
    settings: Settings,
    config_file: Path | None,
    every_seconds: float,
    stop: threading.Event,
    on_run: Callable[[FollowedRun], None],
) -> None:
    """Refresh what landed, then every ``every_seconds``, until ``stop`` is set (the runs of a
    look under way finish first)."""
    seen = 0.0
    while not stop.is_set():
        seen, _ = refresh_landed(settings, config_file, seen, on_run)
        stop.wait(every_seconds)
