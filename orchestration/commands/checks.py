"""``omnicx checks [--format text|json]``: the latest result of every data-quality check, as
the Dagster instance under ``$OMNICX_HOME/dagster`` recorded it (``omnicx refresh``, the
schedules and the sensor record there), and where the Great Expectations Data Docs are."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import click

from schemas.settings import Settings

# Metadata a check result carries beyond pass/fail and its days, shown when present.
_DETAILS = ("failed_expectations", "flagged_days", "closed_days", "mismatches")


@dataclass(frozen=True)
class CheckResult:
    check: str
    asset: str
    passed: bool | None  # None: never run
    at: str | None = None  # UTC time the result was recorded
    days: str | None = None
    blocking: bool = True
    details: dict[str, Any] = field(default_factory=dict)


def latest_results(settings: Settings) -> list[CheckResult]:
    """The latest recorded evaluation of each check of the definitions, by check name."""
    from dagster import AssetCheckSeverity, DagsterInstance

    from orchestration.checks.asset_checks import CHECKS

    keys = sorted((k for c in CHECKS for k in c.check_keys), key=lambda k: k.name)
    instance_dir = settings.dagster_home
    if not instance_dir.is_dir():
        return [CheckResult(k.name, k.asset_key.to_user_string(), None) for k in keys]
    with DagsterInstance.local_temp(tempdir=str(instance_dir)) as instance:
        records = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
    results = []
    for key in keys:
        record = records.get(key)
        evaluation = record.event.dagster_event.event_specific_data if record else None
        if record is None or evaluation is None or not hasattr(evaluation, "passed"):
            results.append(CheckResult(key.name, key.asset_key.to_user_string(), None))
            continue
        metadata = {name: entry.value for name, entry in evaluation.metadata.items()}
        results.append(
            CheckResult(
                key.name,
                key.asset_key.to_user_string(),
                evaluation.passed,
                datetime.fromtimestamp(record.create_timestamp, UTC).isoformat(timespec="seconds"),
                metadata.get("days"),
                evaluation.severity == AssetCheckSeverity.ERROR,
                {name: metadata[name] for name in _DETAILS if metadata.get(name)},
            )
        )
    return results


@click.command()
@click.option(
    "--format", "output", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.pass_obj
def checks(settings: Settings, output: str) -> None:
    """The latest result of each data-quality check (pass/fail, when, its days, what failed)
    and the path of the Great Expectations Data Docs. Exit code 1 when a blocking check's
    latest result failed."""
    from orchestration.checks.gx_validation import data_docs_index

    results = latest_results(settings)
    docs = data_docs_index(settings)
    if output == "json":
        click.echo(
            json.dumps(
                {"checks": [asdict(r) for r in results], "data_docs": str(docs)},
                default=str,
                indent=2,
            )
        )
    else:
        for line in _text(results):
            click.echo(line)
        click.echo(f"Data Docs: {docs}" + ("" if docs.is_file() else " (not built yet)"))
    if any(r.passed is False and r.blocking for r in results):
        click.get_current_context().exit(1)


def _text(results: list[CheckResult]) -> list[str]:
    width = max(len(r.check) for r in results)
    asset_width = max(len(r.asset) for r in results)
    lines = []
    for r in results:
        mark = "never run" if r.passed is None else "ok" if r.passed else "FAIL"
        if r.passed is False and not r.blocking:
            mark = "warn"
        when = f"{r.at}  days {r.days}" if r.at else ""
        lines.append(f"{r.check:<{width}}  {r.asset:<{asset_width}}  {mark:<9}  {when}".rstrip())
        for name, value in r.details.items():
            lines.append(f"    {name}: {json.dumps(value, default=str)}")
    return lines
