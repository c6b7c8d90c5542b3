"""``omnicx refresh`` before and after, in the same run: a multi-day refresh (every day of a
small centre, one Dagster run) and then one-day refreshes of its last day, each variant on its
own copy of the same lake: with Dagster's default SQLite event log (an engine, a connection and
a checkpoint per event) and every check rendering the Data Docs' index; with
``orchestration.dagster_storage`` and every check rendering the index; and as ``omnicx
refresh`` runs now (that storage, the index rendered once after the run). Prints wall and CPU
seconds (``time.process_time``: every thread of this process; the machine is shared, so CPU is
the steadier figure; the one-day figures are medians) and the Dagster events stored.

The centre is that of ``bench_history_refresh`` (closed on Sundays and holidays, written
straight to the lake), small on purpose: with a few dozen contacts a day the refresh's cost is
its fixed part (Dagster, the checks, the warehouse builds), which is what a one-day refresh
pays.

    .venv/bin/python -m benchmarks.bench_refresh [--days 21] [--contacts-per-day 20]
        [--one-day-repeats 3]
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path
from unittest import mock

from benchmarks.bench_history_refresh import FIRST, centre
from orchestration.checks import asset_checks, gx_validation
from schemas.settings import Settings, with_overrides
from tests.warehouse.kpi_fixtures import settings, write_lake

# the module (``orchestration.commands`` exports its click command under the same name)
refresh = importlib.import_module("orchestration.commands.refresh")


def timed(run: Callable[[], object]) -> tuple[object, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def dagsters_storage(instance_dir: Path) -> dict:
    """The instance before: Dagster's default event log storage."""
    return dict(refresh.NO_CAPTURED_OUTPUT)


def index_per_check(*args, docs_index: bool, **kwargs) -> gx_validation.Validation:
    """The checks before: each renders its suite's page and the index."""
    return gx_validation.validate(*args, docs_index=True, **kwargs)


def no_index(settings: Settings) -> None:
    """Before: nothing after the run (every check rendered the index)."""


@contextmanager
def before(storage: bool, index: bool) -> Iterator[None]:
    """The old path of the event storage and/or of the Data Docs' index."""
    with ExitStack() as stack:
        if storage:
            stack.enter_context(mock.patch.object(refresh, "instance_overrides", dagsters_storage))
        if index:
            stack.enter_context(mock.patch.object(asset_checks, "validate", index_per_check))
            stack.enter_context(mock.patch.object(gx_validation, "build_docs_index", no_index))
        yield


def bench(knobs: Settings, days: int, repeats: int, label: str, storage: bool, index: bool) -> None:
    """The refresh of every day, then ``repeats`` refreshes of the last day (their medians)."""
    last = FIRST + timedelta(days=days - 1)
    with before(storage, index):
        for first, what, times in ((FIRST, f"{days} days", 1), (last, "1 day (median)", repeats)):
            runs = [
                timed(lambda f=first: refresh.run_refresh(knobs, f, last, None))
                for _ in range(times)
            ]
            wall, cpu = (statistics.median(run[i] for run in runs) for i in (1, 2))
            events = len(runs[-1][0].all_events)
            ok = "ok" if all(run[0].success for run in runs) else "FAILED"
            print(
                f"{label:<31} {what:<15} wall {wall:6.1f} s  CPU {cpu:6.1f} s  "
                f"{events:5d} events  {ok}",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=21)
    parser.add_argument("--contacts-per-day", type=int, default=20)
    parser.add_argument("--one-day-repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        lake = Path(root) / "lake-only"
        write_lake(with_overrides(settings(), home=lake), centre(args.days, args.contacts_per_day))
        # the imports (Dagster, Great Expectations) and caches, paid once, outside the figures
        warm = Path(root) / "warm-up"
        shutil.copytree(lake, warm)
        refresh.run_refresh(with_overrides(settings(), home=warm), FIRST, FIRST, None)
        variants = (
            ("Dagster's storage, index/check", True, True),
            ("omnicx storage, index/check", False, True),
            ("now (+ index once per run)", False, False),
        )
        for number, (label, storage, index) in enumerate(variants):
            home = Path(root) / f"variant-{number}"
            shutil.copytree(lake, home)
            knobs = with_overrides(settings(), home=home)
            bench(knobs, args.days, args.one_day_repeats, label, storage, index)


if __name__ == "__main__":
    main()
