"""``omnicx refresh`` before and after, in the same run: a multi-day refresh (every day of a
small centre, one Dagster run) and then a one-day refresh of its last day, each with Dagster's
default SQLite event log (the old path: an engine, a connection and a checkpoint per event) and
with ``orchestration.dagster_storage`` (what ``omnicx refresh`` uses now), each on its own copy
of the same lake. Prints wall and CPU seconds (``time.process_time``: every thread of this
process; the machine is shared, so CPU is the steadier figure) and the Dagster events stored.

The centre is that of ``bench_history_refresh`` (closed on Sundays and holidays, written
straight to the lake), small on purpose: with a few dozen contacts a day the refresh's cost is
its fixed part (Dagster, the checks, the warehouse builds), which is what a one-day refresh
pays.

    .venv/bin/python -m benchmarks.bench_refresh [--days 21] [--contacts-per-day 20]
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from datetime import timedelta
from pathlib import Path
from unittest import mock

from benchmarks.bench_history_refresh import FIRST, centre
from schemas.settings import Settings, with_overrides
from tests.warehouse.kpi_fixtures import settings, write_lake

# the module (``orchestration.commands`` exports its click command under the same name)
refresh = importlib.import_module("orchestration.commands.refresh")


def timed(run: Callable[[], object]) -> tuple[object, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def old_path(instance_dir: Path) -> dict:
    """The instance before: Dagster's default event log storage."""
    return dict(refresh.NO_CAPTURED_OUTPUT)


def bench(knobs: Settings, days: int, label: str, baseline: bool) -> None:
    last = FIRST + timedelta(days=days - 1)
    patch = mock.patch.object(refresh, "instance_overrides", old_path)
    with patch if baseline else nullcontext():
        for first, what in ((FIRST, f"{days} days"), (last, "1 day (the last)")):
            result, wall, cpu = timed(lambda f=first: refresh.run_refresh(knobs, f, last, None))
            events = len(result.all_events)
            ok = "ok" if result.success else "FAILED"
            print(
                f"{label:<28} {what:<17} wall {wall:6.1f} s  CPU {cpu:6.1f} s  "
                f"{events:5d} events  {ok}",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=21)
    parser.add_argument("--contacts-per-day", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        lake = Path(root) / "lake-only"
        write_lake(with_overrides(settings(), home=lake), centre(args.days, args.contacts_per_day))
        # the imports (Dagster, Great Expectations) and caches, paid once, outside the figures
        warm = Path(root) / "warm-up"
        shutil.copytree(lake, warm)
        refresh.run_refresh(with_overrides(settings(), home=warm), FIRST, FIRST, None)
        for label, baseline in (("before (Dagster's storage)", True), ("after", False)):
            home = Path(root) / label.split()[0]
            shutil.copytree(lake, home)
            bench(with_overrides(settings(), home=home), args.days, label, baseline)


if __name__ == "__main__":
    main()
