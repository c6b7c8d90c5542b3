"""``omnicx refresh [--from DATE --to DATE]``: the warehouse views, their checks and the KPI
marts for a range of days, materialized through Dagster in this process with the job the
schedules run (``refresh`` of ``orchestration.definitions``)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.progress import Progress

from orchestration.progress import progress_display
from schemas.settings import Settings

if TYPE_CHECKING:
    from dagster import EventLogEntry, JobDefinition

DAY = click.DateTime(formats=["%Y-%m-%d"])


@click.command()
@click.option("--from", "date_from", type=DAY, help="First day (UTC); default: --to.")
@click.option("--to", "date_to", type=DAY, help="Last day (UTC); default: today.")
@click.pass_obj
def refresh(settings: Settings, date_from: datetime | None, date_to: datetime | None) -> None:
    """Rebuild the warehouse views, run the data-quality checks and, when the blocking ones
    pass, recompute the KPI and churn marts of the days --from..--to (one Dagster run).

    Runs are recorded in the Dagster instance under $OMNICX_HOME/dagster, which
    `DAGSTER_HOME=$OMNICX_HOME/dagster dagster dev -m orchestration.definitions` shows.
    """
    today = datetime.now(UTC).date()
    last = date_to.date() if date_to else today
    first = date_from.date() if date_from else last
    if first > last:
        raise click.BadParameter("--from is after --to")
    if last > today:
        raise click.BadParameter(f"{last} has no partition yet (today is {today} UTC)")
    first = _from_first_partition(settings, first, last, today)
    config_file = click.get_current_context().find_root().params.get("config")
    job = refresh_job(settings)
    with progress_display() as bar:
        result = run_refresh(settings, first, last, config_file, StepProgress(bar, job), job=job)
    for line in _report(result):
        click.echo(line)
    if not result.success:
        raise click.ClickException("refresh failed: the KPI marts were not updated")


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
):
    """Execute the ``refresh`` job over the partitions ``first``..``last`` with the settings of
    ``config_file`` and the home of ``settings``; its result. Dagster's log goes to the Python
    logger ``dagster.run`` (the log file, not the terminal: ``pipelines.logs``); ``on_event``
    sees each event of the run as it happens. ``job``: the ``refresh`` job of the settings'
    definitions (``refresh_job``), when the caller has it already."""
    from dagster import DagsterInstance
    from dagster._core.utils import make_new_run_id

    from orchestration.dagster_home import prepare_dagster_home
    from orchestration.partitions import range_tags

    resource_config = {"home": str(settings.home)}
    if config_file is not None:
        resource_config["config_file"] = str(config_file)
    instance_dir = prepare_dagster_home(settings)
    run_id = make_new_run_id()
    with DagsterInstance.local_temp(tempdir=str(instance_dir)) as instance:
        instance.add_event_listener(run_id, _to_python_log)
        if on_event is not None:
            instance.add_event_listener(run_id, on_event)
        return (job or refresh_job(settings)).execute_in_process(
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
    """The steps of a run (one per asset, group of assets or check) on a progress display, and
    one log record (``omnicx.refresh``) per finished step with its duration and the assets it
    materialized: on stderr (above the bar on a terminal) and in the log file."""

    def __init__(self, bar: Progress, job: JobDefinition) -> None:
        self.bar = bar
        steps = len(job.graph.node_dict)
        self.task = bar.add_task("refresh", total=steps, unit="steps")
        self.started: dict[str, float] = {}
        self.materialized: dict[str, set[str]] = {}

    def __call__(self, entry: EventLogEntry) -> None:
        event = entry.dagster_event
        step = entry.step_key
        if event is None or step is None:
            return
        if event.is_step_start:
            self.started[step] = entry.timestamp
        elif event.is_step_materialization:
            # one event per partition of the range: each asset once
            self.materialized.setdefault(step, set()).add(event.asset_key.to_user_string())
        elif event.is_step_success or event.is_step_failure or event.is_step_skipped:
            seconds = entry.timestamp - self.started.get(step, entry.timestamp)
            if event.is_step_success:
                outcome = "done"
            else:
                outcome = "FAILED" if event.is_step_failure else "skipped"
            assets = sorted(self.materialized.pop(step, ()))
            made = f": materialized {', '.join(assets)}" if assets else ""
            _log.info("%s %s in %.1f s%s", outcome, step, seconds, made)
            self.bar.advance(self.task)


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
