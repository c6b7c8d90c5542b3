"""``omnicx refresh`` at several lengths of history, and against an earlier tree in the same
run: for each history length (``--days``), a lake of that many days, refreshed whole (one
Dagster run), then its last day refreshed alone ``--one-day-repeats`` times (the medians). With
``--before REV`` the same is measured with the code of git revision ``REV`` (``git archive``
into a temporary directory) on a copy of the same lake, alternating with this tree.

Each measurement runs in a process of its own (imports paid by a warm-up refresh first, on
another copy of the lake) and prints wall and CPU seconds (``time.process_time``: every thread
of the process; the machine is shared, so CPU is the steadier figure), the Dagster events
stored, the size of the warehouse file and the load average when it ended. Then the last day
is refreshed once more in a new process, as the Dagster daemon launches every run of the
``new_lake_data`` sensor and of the schedules: wall and CPU seconds from its start to its
exit, the interpreter, the imports (Dagster, Great Expectations, pandas) and the definitions'
load included.

The centre is that of ``bench_history_refresh`` (closed on Sundays and holidays, written
straight to the lake), small on purpose: a one-day refresh of it costs its fixed part (Dagster,
the checks, the warehouse builds) and what grows with the history held. With ``--agents A`` it
is the simulator's centre of ``A`` agents instead (seed 7, no faults): its contacts, journeys,
surveys and agent states written straight to the lake (``write_simulated_lake``; not the
contacts' other events, which no mart reads), the size of a ``bench_end_to_end`` run.

    .venv/bin/python -m benchmarks.bench_refresh [--days 7 28] [--contacts-per-day 100]
        [--agents A] [--one-day-repeats 3] [--before main]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from benchmarks.bench_history_refresh import FIRST, centre
from schemas.settings import with_overrides
from tests.warehouse.kpi_fixtures import settings, write_lake

REPOSITORY = Path(__file__).resolve().parents[1]


def timed(run: Callable[[], object]) -> tuple[object, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def measure(home: Path, days: int, repeats: int) -> dict:
    """In this process: a warm-up on a copy of ``home``, the refresh of its ``days`` days, then
    ``repeats`` refreshes of the last day; their figures."""
    # the module (``orchestration.commands`` exports its click command under the same name)
    refresh = importlib.import_module("orchestration.commands.refresh")
    warm = home.with_name(home.name + "-warm-up")
    shutil.copytree(home, warm)
    refresh.run_refresh(with_overrides(settings(), home=warm), FIRST, FIRST, None)
    shutil.rmtree(warm)
    knobs = with_overrides(settings(), home=home)
    last = FIRST + timedelta(days=days - 1)
    figures: dict = {}
    for first, what, times in ((FIRST, "all days", 1), (last, "one day", repeats)):
        runs = [
            timed(lambda f=first: refresh.run_refresh(knobs, f, last, None)) for _ in range(times)
        ]
        figures[what] = {
            "wall": statistics.median(run[1] for run in runs),
            "cpu": statistics.median(run[2] for run in runs),
            "events": len(runs[-1][0].all_events),
            "ok": all(run[0].success for run in runs),
        }
    figures["warehouse_mib"] = knobs.duckdb_file.stat().st_size / 2**20
    figures["load"] = os.getloadavg()[0]
    return figures


def refresh_last_day(home: Path, days: int) -> bool:
    """In this process, just started: one refresh of the last day; whether it succeeded."""
    from orchestration.commands.refresh import run_refresh

    last = FIRST + timedelta(days=days - 1)
    return run_refresh(with_overrides(settings(), home=home), last, last, None).success


def measured_in(tree: Path, home: Path, days: int, repeats: int) -> dict:
    """``measure`` in a new process running the code of ``tree``, then a refresh of the last
    day in another new process (``cold``)."""
    figures = json.loads(_child(tree, "--measure", home, days, repeats).splitlines()[-1])
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    succeeded = _child(tree, "--cold", home, days, repeats).splitlines()[-1] == "True"
    wall = time.perf_counter() - started
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures["cold"] = {
        "wall": wall,
        "cpu": used.ru_utime - cpu.ru_utime + used.ru_stime - cpu.ru_stime,
        "ok": succeeded,
    }
    return figures


def _child(tree: Path, mode: str, home: Path, days: int, repeats: int) -> str:
    """The output of this file run in ``mode`` in a new process on the code of ``tree``."""
    command = [sys.executable, __file__, mode, str(home), "--days", str(days)]
    command += ["--one-day-repeats", str(repeats)]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{mode} in {tree} failed:\n{done.stderr[-3000:]}")
    return done.stdout.strip()


def tree_of(revision: str, root: Path) -> Path:
    """The files of git ``revision`` of this repository, in a directory under ``root``."""
    tree = root / f"tree-{revision.replace('/', '_')}"
    tree.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPOSITORY), "archive", revision], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, nargs="+", default=[7, 28])
    parser.add_argument("--contacts-per-day", type=int, default=100)
    parser.add_argument("--agents", type=int, help="the simulator's centre of this many agents")
    parser.add_argument("--one-day-repeats", type=int, default=3)
    parser.add_argument("--before", metavar="REV", help="also measure git revision REV")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the child processes
    parser.add_argument("--cold", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.days[0], args.one_day_repeats)))
        return
    if args.cold:
        print(refresh_last_day(args.cold, args.days[0]))
        return
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        trees = {"now": REPOSITORY}
        if args.before:
            trees = {f"before ({args.before})": tree_of(args.before, root), **trees}
        print(
            f"{'history':>7}  {'code':<15} {'refresh of every day':>27}  "
            f"{'one-day refresh (median)':>27}  {'one day, new process':>27}  {'events':>6}  "
            f"{'file':>8}  load"
        )
        for days in args.days:
            lake = root / f"lake-{days}"
            knobs = with_overrides(settings(), home=lake)
            if args.agents:
                # here, not at the top: the child measuring an older tree imports this file
                from pipelines.simulator.config import FaultRates, SimulationConfig
                from pipelines.simulator.run import Simulation
                from tests.warehouse.kpi_fixtures import write_simulated_lake

                config = SimulationConfig(
                    seed=7, days=days, agents=args.agents, start=FIRST, faults=FaultRates.none()
                )
                write_simulated_lake(knobs, Simulation(config, knobs))
            else:
                write_lake(knobs, centre(days, args.contacts_per_day))
            for label, tree in trees.items():
                home = root / f"home-{days}-{len(label)}"
                shutil.copytree(lake, home)
                figures = measured_in(tree, home, days, args.one_day_repeats)
                runs = [figures[what] for what in ("all days", "one day", "cold")]
                ok = "" if all(run["ok"] for run in runs) else "  FAILED"
                timings = "  ".join(f"wall {r['wall']:6.1f} s CPU {r['cpu']:6.1f} s" for r in runs)
                print(
                    f"{days:>4} d  {label:<15} {timings}  {figures['one day']['events']:>6}  "
                    f"{figures['warehouse_mib']:5.1f} MiB  {figures['load']:.1f}{ok}",
                    flush=True,
                )
                shutil.rmtree(home)


if __name__ == "__main__":
    main()
