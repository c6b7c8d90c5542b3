"""``omnicx refresh --follow`` (``orchestration.follow``): the sensor's refreshes in one process
that stays up. On a lake of the small centre: the first look refreshes the lake's whole range,
a look with nothing new runs nothing, a file landing again refreshes its day and the day before,
and the loop ends when told to, after its run, Ctrl-C included."""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from dagster import DagsterInstance

from orchestration.cli import main
from orchestration.follow import FollowedRun, follow, refresh_landed
from schemas.settings import with_overrides
from tests.harness import OmnicxProcess
from tests.warehouse.kpi_fixtures import DAY, NEXT_DAY, kpis, settings, small_centre, write_lake
from warehouse.build import connect_read_only

CONFIG = "[checks]\ndead_letter_max_share = 0.2\n"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    write_lake(with_overrides(settings(), home=tmp_path), **small_centre())
    (tmp_path / "omnicx.toml").write_text(CONFIG)
    return tmp_path


def test_the_first_look_refreshes_the_whole_lake_then_only_the_days_of_new_files(home) -> None:
    knobs = with_overrides(settings(), home=home)
    config = home / "omnicx.toml"

    seen, (run,) = refresh_landed(knobs, config, 0.0)
    assert run.result.success
    assert (run.first, run.last) == (DAY, NEXT_DAY)  # the day before DAY has no partition
    with connect_read_only(knobs) as con:
        published = kpis(con, ("day", "channel"), date_to=NEXT_DAY)
    assert published[("aht.v1", DAY, "voice")]["denominator"] == 2

    assert refresh_landed(knobs, config, seen) == (seen, [])  # nothing new: no run

    # a file of NEXT_DAY lands again (a later version of its contacts, say)
    landed = next((home / "lake" / "contact_versions" / f"day={NEXT_DAY}").glob("*.parquet"))
    os.utime(landed, (seen + 60, seen + 60))
    newer, (run,) = refresh_landed(knobs, config, seen)
    assert newer == seen + 60
    assert (run.first, run.last) == (DAY, NEXT_DAY)  # its day, the day before
    with DagsterInstance.local_temp(tempdir=str(knobs.dagster_home)) as instance:
        assert [r.job_name for r in instance.get_runs()] == ["refresh", "refresh"]


def test_the_loop_ends_after_its_run_when_stopped(home) -> None:
    knobs = with_overrides(settings(), home=home)
    stop = threading.Event()
    runs: list[FollowedRun] = []

    def stop_after(run: FollowedRun) -> None:
        runs.append(run)
        stop.set()

    # without the stop, the loop would wait a day before its next look
    follow(knobs, home / "omnicx.toml", timedelta(days=1).total_seconds(), stop, stop_after)
    assert [(r.first, r.last, r.result.success) for r in runs] == [(DAY, NEXT_DAY, True)]


def test_follow_takes_no_day_range(home) -> None:
    outcome = CliRunner().invoke(
        main, ["--home", str(home), "refresh", "--follow", "--from", str(date(2026, 1, 5))]
    )
    assert outcome.exit_code == 2
    assert "--follow refreshes the days that land: no --from, --to or --profile" in outcome.output


def test_ctrl_c_during_a_run_lets_the_run_finish_then_ends_the_loop(home) -> None:
    knobs = with_overrides(settings(), home=home)
    following = OmnicxProcess(
        knobs,
        "--config",
        str(home / "omnicx.toml"),
        "refresh",
        "--follow",
        "--every",
        "3600",
        log_name="follow",
    )
    log = knobs.log_dir / "refresh.log"
    try:
        deadline = time.monotonic() + 120
        # the first look's run is under way once Dagster starts its first step
        while "Started execution of step" not in (log.read_text() if log.exists() else ""):
            assert following.process.poll() is None, following.log_tail()
            assert time.monotonic() < deadline, following.log_tail()
            time.sleep(0.1)
        following.process.send_signal(signal.SIGINT)  # what Ctrl-C sends
        assert following.process.wait(120) == 0, following.log_tail()
    finally:
        following.stop()
    printed = following.log_path.read_text().splitlines()
    assert printed[0].startswith(f"following {home / 'lake'}:")
    assert printed[1].startswith(f"refreshed {DAY}..{NEXT_DAY} in ")
    assert printed[1].endswith(" s: ok")
    assert printed[2:] == ["stopped following the lake"]
    with DagsterInstance.local_temp(tempdir=str(knobs.dagster_home)) as instance:
        assert [(r.job_name, r.is_success) for r in instance.get_runs()] == [("refresh", True)]
