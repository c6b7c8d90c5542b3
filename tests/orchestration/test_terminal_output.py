"""What a run prints (issue 11, Readable terminal): without a terminal a real ``omnicx refresh``
prints its report and one line per step, no library log line and no escape code, while the log
file under $OMNICX_HOME/logs holds the libraries' records; ``-v --log-format json`` prints one
JSON object a line with one schema; progress on a terminal shows totals and rates."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import DagsterInstance
from rich.console import Console

from orchestration.commands.lag import _CatchUp
from orchestration.commands.refresh import StepProgress
from orchestration.definitions import warehouse_asset_names
from orchestration.progress import progress_display
from pipelines.logs import JSON_KEYS, configure_logging
from schemas.settings import with_overrides
from tests.conftest import REPO
from tests.orchestration.test_dagster_refresh import DEFS
from tests.warehouse.kpi_fixtures import DAY, NEXT_DAY, settings, small_centre, write_lake
from warehouse.kpi_marts import MARTS

CONFIG = """
[checks]
dead_letter_max_share = 0.2
"""
ESCAPE = "\x1b["
# The line formats of the libraries' own handlers: Dagster's console, Python's default
# (logging.basicConfig, asyncio, Great Expectations), mode's coloured one.
LIBRARY_LINE = re.compile(
    r" - dagster - | - (DEBUG|INFO|WARNING|ERROR) - |^(DEBUG|INFO|WARNING|ERROR):[\w.]+:|"
    r"^\[\d{4}-\d\d-\d\d [\d:,]+\] \[\d+\]"
)


def omnicx(home: Path, *args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    """``omnicx`` in a real process without a terminal (pipes), with no OMNICX_* variable but
    the home, the settings file of ``home`` and ``environ``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNICX_")}
    env |= {"OMNICX_HOME": str(home), "OMNICX_CONFIG": str(home / "omnicx.toml"), **environ}
    command = [sys.executable, "-m", "orchestration", *args]
    return subprocess.run(
        command, env=env, cwd=REPO, capture_output=True, text=True, timeout=600, check=False
    )


def refresh(home: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return omnicx(home, *options, "refresh", "--from", str(DAY), "--to", str(NEXT_DAY))


def asset_names() -> set[str]:
    """The refresh job's assets (every asset but the reports)."""
    return warehouse_asset_names(DEFS)


REFRESH_JOB = DEFS.resolve_job_def("refresh")
# the asset steps (orchestration.assets, orchestration.planning_assets); every other step of
# the job runs a check
ASSET_STEPS = {"warehouse_views", "kpi_marts", "planning", "opt_out_violation_alerts"}


@pytest.fixture(scope="module")
def lake_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("home")
    write_lake(with_overrides(settings(), home=home), dead_letters=["not json {"], **small_centre())
    (home / "omnicx.toml").write_text(CONFIG)
    return home


@pytest.fixture(scope="module")
def plain_refresh(lake_home) -> subprocess.CompletedProcess[str]:
    """A real ``omnicx refresh`` of the lake, without a terminal."""
    return refresh(lake_home)


def test_a_refresh_without_a_terminal_prints_no_library_line_and_logs_them_to_a_file(
    lake_home, plain_refresh
):
    run = plain_refresh

    assert run.returncode == 0, run.stderr
    assert ESCAPE not in run.stdout + run.stderr
    assert run.stdout.splitlines()[0].startswith(f"materialized {len(asset_names())} assets: ")
    # stderr: one line of omnicx's per finished step, with its duration and how many of the
    # run's steps are done, and nothing else
    step = re.compile(r"^done \S+ in \d+\.\d s \((\d+)/(\d+) steps\)(: materialized (.+))?$")
    finished = [step.match(line) for line in run.stderr.splitlines()]
    assert all(finished), run.stderr
    steps = len(REFRESH_JOB.graph.node_dict)
    assert [(int(m[1]), int(m[2])) for m in finished] == [(n, steps) for n in range(1, steps + 1)]
    materialized = [item for match in finished if match[4] for item in match[4].split(", ")]
    # each asset once; a mart with the seconds of its own recomputation
    named = [item.split(" ")[0] for item in materialized]
    assert sorted(named) == sorted(asset_names())
    timed = {item.split(" ")[0] for item in materialized if re.fullmatch(r"\S+ \d+\.\d\d s", item)}
    assert timed == {mart.name for mart in MARTS if mart.day_column is not None}
    assert not [line for line in run.stderr.splitlines() if LIBRARY_LINE.search(line)]
    # the libraries' records are in the log file, with omnicx's
    log = (lake_home / "logs" / "refresh.log").read_text()
    assert re.search(r" DEBUG refresh dagster\.run: Finished execution of run for .refresh.", log)
    # ... with omnicx's own, time, level and logger in front of the line stderr showed
    for line in run.stderr.splitlines():
        assert re.search(
            rf"^[\d-]+ [\d:.]+ INFO refresh omnicx\.refresh: {re.escape(line)}$", log, re.M
        )


def test_json_logs_with_verbose_show_every_record_as_one_object_of_one_schema(lake_home):
    run = refresh(lake_home, "-v", "--log-format", "json")

    assert run.returncode == 0, run.stderr
    records = [json.loads(line) for line in run.stderr.splitlines()]
    assert all(list(record) == list(JSON_KEYS) for record in records)
    assert {record["process"] for record in records} == {"refresh"}
    by_logger = {record["logger"] for record in records}
    assert {"dagster.run", "omnicx.refresh"} <= by_logger  # -v: the libraries' records too
    # the log file takes the same format, after the text lines of the earlier run
    written = (lake_home / "logs" / "refresh.log").read_text().splitlines()
    assert [json.loads(line) for line in written[-len(records) :]] == records


def test_the_log_format_comes_from_the_environment_too_and_records_keep_exceptions(tmp_path):
    home = tmp_path / "home"
    (home).mkdir()
    (home / "omnicx.toml").write_text("")
    run = omnicx(home, "sql", "select 1 as n", OMNICX_LOG_FORMAT="yaml")
    assert run.returncode == 1
    assert run.stderr.splitlines() == [
        "error: OMNICX_LOG_FORMAT: 'yaml' is not one of text, json (see the settings in README.md)"
    ]
    # a record with an exception, through the handlers configure_logging installs
    json_settings = with_overrides(settings(), home=home, log={"format": "json"})
    path = configure_logging(json_settings, "unit")
    try:
        raise ValueError("the broken thing")
    except ValueError:
        logging.getLogger("omnicx.unit").exception("it failed for %s", "a reason")
    (record,) = [json.loads(line) for line in path.read_text().splitlines()]
    assert (record["level"], record["logger"], record["message"], record["process"]) == (
        "ERROR",
        "omnicx.unit",
        "it failed for a reason",
        "unit",
    )
    assert record["exc"].startswith("Traceback") and "ValueError: the broken thing" in record["exc"]


def test_progress_on_a_terminal_shows_totals_and_rates_and_nothing_elsewhere():
    drawn = io.StringIO()
    terminal = Console(file=drawn, force_terminal=True, width=120)
    now = [100.0]
    with progress_display(terminal, clock=lambda: now[0]) as bar:
        catch_up = _CatchUp(bar, "sink catch-up")
        # a lag of 1200 falls by 500, grows by 200 (arrivals outpace the sink), drains, in 40 s:
        # 1400 seen consumed, the total grows with it
        for remaining in (1200, 700, 900, 500, 0):
            catch_up.update({"topic-a": remaining // 2, "topic-b": remaining - remaining // 2})
            now[0] += 10
        now[0] -= 10
        bar.refresh()
    task = bar.tasks[0]
    assert (task.completed, task.total) == (1400, 1400)
    last = drawn.getvalue().rsplit("sink catch-up", 1)[1]
    assert "1400/1400" in last
    assert "35 msg/s" in last  # 1400 in 40 s
    assert ESCAPE in drawn.getvalue()

    piped = io.StringIO()
    with progress_display(Console(file=piped)) as bar:
        task_id = bar.add_task("simulate", total=10, unit="msg")
        bar.advance(task_id, 10)
    assert piped.getvalue() == ""


def test_the_refresh_progress_names_each_running_step_and_counts_partitions_and_checks(
    lake_home, plain_refresh
):
    # the events of a real refresh, as its Dagster instance recorded them, through the refresh's
    # progress on a terminal (`omnicx refresh --progress` draws the same off a terminal)
    assert plain_refresh.returncode == 0, plain_refresh.stderr
    with DagsterInstance.local_temp(tempdir=str(lake_home / "dagster")) as instance:
        (run,) = instance.get_runs(limit=1)
        events = instance.all_logs(run.run_id)
    drawn = io.StringIO()
    with progress_display(Console(file=drawn, force_terminal=True, width=200)) as bar:
        on_event = StepProgress(bar, REFRESH_JOB, DAY, NEXT_DAY)
        for entry in events:
            on_event(entry)

    assert ESCAPE in drawn.getvalue()
    screen = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", drawn.getvalue())
    steps = set(REFRESH_JOB.graph.node_dict)
    assert steps > ASSET_STEPS
    days = f"{DAY}..{NEXT_DAY}"
    for step in steps:  # each step named on its row while it runs
        row = f"assets {days}: " if step in ASSET_STEPS else "checks: "
        assert row + step in screen, step
    # the last frame: every asset of both days and every check done, no step running
    partitions = len(asset_names()) * 2
    checks = len(DEFS.resolve_asset_graph().asset_check_keys)
    last_frame = screen[screen.rindex(f"assets {days}") :]
    assert re.match(rf"assets {days} .* {partitions}/{partitions} ", last_frame)
    assert re.search(rf"\nchecks .* {checks}/{checks} ", last_frame)


def test_simulate_draws_its_progress_with_totals_only_where_asked(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "omnicx.toml").write_text('pii_key = "test-only-key"\n')
    small = ["--seed", "3", "--agents", "3", "--tenants", "1", "--load", "0.05", "--to", "file"]

    drawn = omnicx(home, "simulate", *small, "--out", str(tmp_path / "a"), "--progress")
    piped = omnicx(home, "simulate", *small, "--out", str(tmp_path / "b"))

    assert drawn.returncode == piped.returncode == 0, drawn.stderr + piped.stderr
    sent = int(drawn.stdout.split()[1])  # "sent N messages (...)"
    screen = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", drawn.stderr)  # the bar's cursor moves
    assert "simulated hours" in screen and "24/24" in screen
    assert "messages sent" in screen and f"{sent}/{sent}" in screen
    assert ESCAPE in drawn.stderr
    assert piped.stderr == "" and piped.stdout == drawn.stdout.replace(
        f"{tmp_path}/a", f"{tmp_path}/b"
    )


def test_a_failed_kafka_command_prints_its_error_line_only_and_logs_the_clients_records(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "omnicx.toml").write_text("[kafka]\nport = 1\nrequest_timeout_seconds = 1.0\n")

    run = omnicx(home, "lag", "stream")

    assert run.returncode == 1
    (line,) = run.stderr.splitlines()  # kafka-python's connection errors are not on stderr ...
    assert line.startswith("error: no Kafka broker answers at 127.0.0.1:1 ")
    log = (home / "logs" / "lag.log").read_text()  # ... but in the log file
    # kafka-python 2.x's record of a refused connection (ECONNREFUSED is errno 111)
    refused = r"^\S+ \S+ ERROR lag kafka\.conn: .*Connect attempt returned error 111\."
    assert re.search(refused, log, re.MULTILINE)
