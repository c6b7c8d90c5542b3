"""``omnicx refresh [--from DATE --to DATE]``: the warehouse views, their checks and the KPI
marts for a range of days, materialized through Dagster in this process with the job the
schedules run (``refresh`` of ``orchestration.definitions``)."""

from __future__ import annotations

import json
import logging
import signal
import threading
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import Progress, TaskID

from orchestration.progress import progress_display
from orchestration.services import Services, dagster_url
from schemas.settings import Settings

if TYPE_CHECKING:
    from dagster import EventLogEntry, JobDefinition

DAY = click.DateTime(formats=["%Y-%m-%d"])


@click.command()
@click.option(
    "--from", "date_from", type=DAY, help="First day (each tenant's local day); default: --to."
)
@click.option(
    "--to", "date_to", type=DAY, help="Last day (each tenant's local day); default: today."
)
@click.option(
    "--profile",
    "profile_name",
    metavar="NAME",
    help="Compute the marts under a vendor definition profile's knobs (docs/kpis.md, Vendor "
    "definitions), for `omnicx kpis --profile NAME` and `--compare`.",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress (asset partitions and checks done, the running step) on stderr "
    "(default: when stderr is a terminal).",
)
@click.option(
    "--follow",
    is_flag=True,
    help="Stay up and refresh the days of the lake files that land, as the new_lake_data "
    "sensor does, in this process (no new process per run); Ctrl-C or SIGTERM stops it once "
    "the run under way has finished.",
)
@click.option(
    "--every",
    "every_seconds",
    type=click.FloatRange(min=1),
    default=30.0,
    show_default=True,
    help="With --follow: seconds between two looks at the lake.",
)
@click.pass_obj
def refresh(
    settings: Settings,
    date_from: datetime | None,
    date_to: datetime | None,
    profile_name: str | None,
    progress: bool | None,
    follow: bool,
    every_seconds: float,
) -> None:
    """Rebuild the warehouse views, run the data-quality checks and, when the blocking ones
    pass, recompute the KPI and churn marts of the days --from..--to (one Dagster run).

    Runs are recorded in the Dagster instance under $OMNICX_HOME/dagster, which
    `DAGSTER_HOME=$OMNICX_HOME/dagster dagster dev -m orchestration.definitions` shows.
    """
    from orchestration.partitions import today as latest_day
    from schemas.profiles import UnknownProfile, profile

    config_file = click.get_current_context().find_root().params.get("config")
    if follow:
        if date_from or date_to or profile_name:
            raise click.BadParameter(
                "--follow refreshes the days that land: no --from, --to or --profile"
            )
        _follow(settings, config_file, every_seconds)
        return
    if profile_name is not None:
        try:
            profile(profile_name)
        except UnknownProfile as exc:
            raise click.BadParameter(str(exc), param_hint="--profile") from None
    # the latest day in progress in the tenants' reporting time zones
    today = latest_day(settings)
    last = date_to.date() if date_to else today
    first = date_from.date() if date_from else last
    if first > last:
        raise click.BadParameter("--from is after --to")
    if last > today:
        raise click.BadParameter(f"{last} has no partition yet (today is {today})")
    first = _from_first_partition(settings, first, last, today)
    job = refresh_job(settings)
    # --progress draws even when stderr is not a terminal, --no-progress never; else when it is
    with progress_display(Console(stderr=True, force_terminal=progress)) as bar:
        steps = StepProgress(bar, job, first, last)
        result = run_refresh(
            settings, first, last, config_file, steps, job=job, profile=profile_name
        )
    for line in _report(result):
        click.echo(line)
    if Services(settings).reload_ui_definitions():
        click.echo(f"the Dagster UI ({dagster_url(settings)}) reloaded its definitions")
    if not result.success:
        raise click.ClickException("refresh failed: the KPI marts were not updated")


def _follow(settings: Settings, config_file: Path | None, every_seconds: float) -> None:
    """``--follow``: one line per run (the report's lines too when it failed) until SIGTERM or
    Ctrl-C, which end the loop after the run under way.

    The loop runs on a thread of its own. During a run Dagster takes over SIGINT and SIGTERM on
    the main thread (``capture_interrupts``) and turns them into an interruption of the run,
    which is then recorded as failed; on any other thread it leaves the handlers alone. So the
    main thread keeps the handlers below, which only ask the loop to stop, and waits."""
    from concurrent.futures import ThreadPoolExecutor

    from orchestration.follow import FollowedRun, follow
    from orchestration.partitions import partitions_start

    stop = threading.Event()
    shown: dict[str, date | None] = {"partitions_start": None}

    def on_run(run: FollowedRun) -> None:
        days = str(run.first) if run.first == run.last else f"{run.first}..{run.last}"
        outcome = "ok" if run.result.success else "FAILED: the KPI marts were not updated"
        click.echo(f"refreshed {days} in {run.seconds:.1f} s: {outcome}")
        if not run.result.success:
            for line in _report(run.result):
                click.echo(f"  {line}")
        # the UI loaded its partitions before this data (or older data) landed: reload them
        start = partitions_start(settings)
        if start != shown["partitions_start"] and Services(settings).reload_ui_definitions():
            click.echo(f"the Dagster UI ({dagster_url(settings)}) reloaded its definitions")
        shown["partitions_start"] = start

    click.echo(
        f"following {settings.lake_dir}: the days of new files refreshed, a look every "
        f"{every_seconds:g} s (Ctrl-C stops after the run under way)"
    )
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    for signum in handlers:
        signal.signal(signum, lambda *_: stop.set())
    try:
        with ThreadPoolExecutor(1, thread_name_prefix="follow") as loop:
            # a signal interrupts this wait, runs its handler and the wait goes on
            loop.submit(follow, settings, config_file, every_seconds, stop, on_run).result()
    finally:
        stop.set()
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    click.echo("stopped following the lake")


def _from_first_partition(settings: Settings, first: date, last: date, today: date) -> date:
    """``first``, or the first partition when the range starts before it (said on stderr)."""
    from orchestration.partitions import partitions_start

    start = partitions_start(settings, today)
    origin = (
        "[orchestration] partitions_start"
        if settings.orchestration.partitions_start
        else "the first day of the lake's events"
    )
    if last < start:
        raise click.ClickException(
            f"nothing to refresh: the partitions start at {start} ({origin})"
        )
    if first < start:
        click.echo(f"refreshing from {start}, the first partition ({origin})", err=True)
    return max(first, start)


def run_refresh(
    settings: Settings,
    first: date,
    last: date,
    config_file: Path | None,
    on_event: Callable[[EventLogEntry], None] | None = None,
    *,
    job: JobDefinition | None = None,
    profile: str | None = None,
):
    """Execute the ``refresh`` job over the partitions ``first``..``last`` with the settings of
    ``config_file`` and the home of ``settings``; its result. Dagster's log goes to the Python
    logger ``dagster.run`` (the log file, not the terminal: ``pipelines.logs``); ``on_event``
    sees each event of the run as it happens. ``job``: the ``refresh`` job of the settings'
    definitions (``refresh_job``), when the caller has it already; ``profile``: a vendor
    definition profile whose KPI knobs the marts are computed under."""
    from dagster import DagsterInstance
    from dagster._core.utils import make_new_run_id

    from orchestration.checks.gx_validation import build_docs_index
    from orchestration.dagster_home import prepare_dagster_home
    from orchestration.partitions import range_tags

    # the Data Docs' index once after the run, not after each check (build_docs_index below)
    resource_config = {"home": str(settings.home), "docs_index_after_run": True}
    if config_file is not None:
        resource_config["config_file"] = str(config_file)
    if profile is not None:
        resource_config["profile"] = profile
    instance_dir = prepare_dagster_home(settings)
    run_id = make_new_run_id()
    with DagsterInstance.local_temp(
        tempdir=str(instance_dir), overrides=instance_overrides(instance_dir)
    ) as instance:
        instance.add_event_listener(run_id, _to_python_log)
        if on_event is not None:
            instance.add_event_listener(run_id, on_event)
        result = (job or refresh_job(settings)).execute_in_process(
            run_config={
                "resources": {"warehouse": {"config": resource_config}},
                # its console logger draws coloured lines on stderr: _to_python_log instead
                "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
            },
            tags=range_tags(first, last),
            instance=instance,
            raise_on_error=False,
            run_id=run_id,
        )
    build_docs_index(settings)
    return result


# The run's output is not captured for the Dagster UI: Dagster's default would redirect this
# process's stdout and stderr into a file and copy it back with `tail -F`, a copy that is cut
# when the run ends, so the last lines on stderr (a step's "done" line) could be lost on a busy
# machine; each run also started two `tail` and two Python watcher processes. The step lines
# and Dagster's records are in $OMNICX_HOME/logs/refresh.log anyway.
NO_CAPTURED_OUTPUT = {
    "compute_logs": {
        "module": "dagster._core.storage.noop_compute_log_manager",
        "class": "NoOpComputeLogManager",
    }
}


def instance_overrides(instance_dir: Path) -> dict:
    """The refresh's instance: no captured output, and the event log in Dagster's own SQLite
    files through ``orchestration.dagster_storage`` (one open connection per file)."""
    events = {
        "module": "orchestration.dagster_storage",
        "class": "RefreshEventLogStorage",
        "config": {"base_dir": str(instance_dir / "history" / "runs")},
    }
    return {**NO_CAPTURED_OUTPUT, "event_log_storage": events}


def refresh_job(settings: Settings) -> JobDefinition:
    """The ``refresh`` job of the definitions of ``settings`` (partitions from their start)."""
    from orchestration.definitions import build_definitions

    return build_definitions(settings).resolve_job_def("refresh")


_dagster_log = logging.getLogger("dagster.run")
_log = logging.getLogger("omnicx.refresh")


def _to_python_log(entry: EventLogEntry) -> None:
    step = f"{entry.step_key}: " if entry.step_key else ""
    _dagster_log.log(entry.level, "%s%s", step, entry.message or entry.user_message)


class StepProgress:
    """A run on a progress display, and one log record (``omnicx.refresh``) per finished step.

    The display has two rows: the asset partitions materialized of those of the run (each asset
    of the job once per day of the range) and the checks evaluated of the job's, each row naming
    the step of its kind that is running (a step materializes a group of assets, or runs a
    check). The record of a finished step gives its duration, how many of the run's steps are
    done and the assets it materialized; it is printed on stderr (above the bar on a terminal)
    and written to the log file."""

    def __init__(self, bar: Progress, job: JobDefinition, first: date, last: date) -> None:
        self.bar = bar
        self.steps = len(job.graph.node_dict)
        self.finished = 0
        days = (last - first).days + 1
        span = str(first) if days == 1 else f"{first}..{last}"
        assets = len(job.asset_layer.selected_asset_keys)
        graph = job.asset_layer.asset_graph
        self.check_steps = {d.node_def.name for d in graph.assets_defs if not d.keys}
        self.titles = {"assets": f"assets {span}", "checks": "checks"}
        self.rows: dict[str, TaskID] = {
            "assets": bar.add_task(self.titles["assets"], total=assets * days, unit="partitions"),
            "checks": bar.add_task("checks", total=len(graph.asset_check_keys), unit="checks"),
        }
        self.started: dict[str, float] = {}
        # per running step, the assets it materialized and the seconds each took, when known
        self.materialized: dict[str, dict[str, float | None]] = {}

    def __call__(self, entry: EventLogEntry) -> None:
        event = entry.dagster_event
        step = entry.step_key
        if event is None or step is None:
            return
        kind = "checks" if step in self.check_steps else "assets"
        if event.is_step_start:
            self.started[step] = entry.timestamp
            self._show(kind, f"{self.titles[kind]}: {step}")
        elif event.is_step_materialization:
            # one event per partition of the range
            seconds = event.step_materialization_data.materialization.metadata.get("seconds")
            self.materialized.setdefault(step, {})[event.asset_key.to_user_string()] = (
                seconds.value if seconds is not None else None
            )
            self.bar.advance(self.rows["assets"])
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            self.bar.advance(self.rows["checks"])
        elif event.is_step_success or event.is_step_failure or event.is_step_skipped:
            seconds = entry.timestamp - self.started.get(step, entry.timestamp)
            if event.is_step_success:
                outcome = "done"
            else:
                outcome = "FAILED" if event.is_step_failure else "skipped"
            self.finished += 1
            made = _materialized(self.materialized.pop(step, {}))
            _log.info(
                "%s %s in %.1f s (%d/%d steps)%s",
                *(outcome, step, seconds, self.finished, self.steps, made),
            )
            self._show(kind, self.titles[kind])

    def _show(self, kind: str, description: str) -> None:
        # drawn now, not at the next tick: a step can start and end between two ticks
        self.bar.update(self.rows[kind], description=description, refresh=True)


def _materialized(assets: dict[str, float | None]) -> str:
    """``: materialized a, b 1.25 s, ...``: the assets by name, each with its own duration when
    the step measured it (a mart's recomputation; a build's views share the step's time)."""
    if not assets:
        return ""
    named = (
        name if seconds is None else f"{name} {seconds:.2f} s"
        for name, seconds in sorted(assets.items())
    )
    return f": materialized {', '.join(named)}"


def _report(result) -> list[str]:
    """One line per materialized asset group and per check, failures with their details."""
    lines = []
    materialized = sorted(
        {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    )
    lines.append(f"materialized {len(materialized)} assets: {', '.join(materialized)}")
    for evaluation in result.get_asset_check_evaluations():
        mark = "ok  " if evaluation.passed else "FAIL"
        key = evaluation.asset_check_key
        lines.append(f"{mark} {key.name} ({key.asset_key.to_user_string()})")
        if not evaluation.passed:
            for name, entry in evaluation.metadata.items():
                lines.append(f"       {name}: {json.dumps(entry.value, default=str)}")
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            lines.append(f"step {event.step_key} failed: {error.message.strip() if error else ''}")
    return lines
