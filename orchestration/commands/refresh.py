"""``omnicx refresh [--from DATE --to DATE]``: the warehouse views, their checks and the KPI
marts for a range of days, materialized through Dagster in this process with the job the
schedules run (``refresh`` of ``orchestration.definitions``)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import click

from schemas.settings import Settings

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
    result = run_refresh(settings, first, last, config_file)
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


def run_refresh(settings: Settings, first: date, last: date, config_file: Path | None):
    """Execute the ``refresh`` job over the partitions ``first``..``last`` with the settings of
    ``config_file`` and the home of ``settings``; its result."""
    from dagster import DagsterInstance

    from orchestration.dagster_home import prepare_dagster_home
    from orchestration.definitions import build_definitions
    from orchestration.partitions import range_tags

    resource_config = {"home": str(settings.home)}
    if config_file is not None:
        resource_config["config_file"] = str(config_file)
    instance_dir = prepare_dagster_home(settings)
    with DagsterInstance.local_temp(tempdir=str(instance_dir)) as instance:
        return (
            build_definitions(settings)
            .resolve_job_def("refresh")
            .execute_in_process(
                run_config={
                    "resources": {"warehouse": {"config": resource_config}},
                    # the report below says what happened; Dagster's own log only for problems
                    "loggers": {"console": {"config": {"log_level": "WARNING"}}},
                },
                tags=range_tags(first, last),
                instance=instance,
                raise_on_error=False,
            )
        )


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
