"""A year of history at its real dates: ``omnicx refresh`` over every day of a centre that
opened on Monday 4 January 2021, closes on Sundays and on a few holidays, in one Dagster run
(``orchestration.commands.refresh.run_refresh``, the job the schedules run). Prints the seconds
of the lake writing and of the refresh, and the outcome of every check (all must pass: closed
days are normal, the volume check compares the same weekday).

The lake is written directly with the sink's writer (``tests.warehouse.kpi_fixtures``): a year
through Kafka would measure the stream instead.

    .venv/bin/python -m benchmarks.bench_history_refresh [--days 365] [--contacts-per-day 40]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from orchestration.commands.refresh import run_refresh
from schemas.settings import with_overrides
from tests.warehouse.kpi_fixtures import contact, handled_call, settings, write_lake

FIRST = date(2021, 1, 4)
HOLIDAYS = {date(2021, 4, 5), date(2021, 5, 24), date(2021, 12, 24), date(2021, 12, 27)}


def centre(days: int, per_day: int) -> list:
    """``per_day`` contacts on each open day (one in ten abandoned), a third on Saturdays."""
    contacts = []
    for n in range(days):
        day = FIRST + timedelta(days=n)
        if day.weekday() == 6 or day in HOLIDAYS:
            continue
        for i in range(per_day if day.weekday() < 5 else per_day // 3):
            start = f"{day}T{8 + i * 10 // per_day:02d}:{i % 60:02d}:00"
            customer = f"c{(n * per_day + i) % 5000}"
            if i % 10 == 9:
                contacts.append(contact(f"{day}-{i}", start, abandoned=40.0, customer=customer))
            else:
                contacts.append(handled_call(f"{day}-{i}", start, customer=customer))
    return contacts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--contacts-per-day", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        knobs = with_overrides(settings(), home=Path(home))
        began = time.perf_counter()
        contacts = centre(args.days, args.contacts_per_day)
        write_lake(knobs, contacts)
        landed = time.perf_counter() - began
        last = FIRST + timedelta(days=args.days - 1)
        began = time.perf_counter()
        result = run_refresh(knobs, FIRST, last, None)
        refreshed = time.perf_counter() - began
        print(f"{len(contacts)} contacts over {FIRST}..{last}: lake written in {landed:.1f} s")
        print(f"refresh of {args.days} partitions in one run: {refreshed:.1f} s")
        for evaluation in result.get_asset_check_evaluations():
            mark = "ok  " if evaluation.passed else "FAIL"
            print(f"{mark} {evaluation.asset_check_key.name}")
        print("run succeeded" if result.success else "run FAILED")


if __name__ == "__main__":
    main()
