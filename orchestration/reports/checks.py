"""The data-quality checks of the Dagster refresh runs that covered a report's days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

# Refresh runs read, newest first: a year of daily runs and their re-runs.
_RUNS = 1000
_PARTITION_TAG = "dagster/partition"


@dataclass(frozen=True)
class CheckOutcome:
    asset: str
    check: str
    first: date  # the days it was evaluated over
    last: date
    passed: bool
    severity: str  # Dagster's: ERROR (blocks the marts) or WARN


def check_outcomes(dagster_home: Path, first: date, last: date) -> list[CheckOutcome] | None:
    """The latest evaluation of each asset check over each range of days of the refresh runs
    that overlap ``first``..``last``; None when there is no Dagster instance to ask."""
    if not dagster_home.is_dir():
        return None
    from dagster import DagsterEventType, DagsterInstance, RunsFilter
    from dagster._core.instance.ref import InstanceRef

    latest: dict[tuple[str, str, date, date], CheckOutcome] = {}
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(dagster_home))) as instance:
        runs = instance.get_run_records(filters=RunsFilter(job_name="refresh"), limit=_RUNS)
        for run in runs:  # newest first: the first outcome seen of a check and days wins
            if not _may_overlap(run.dagster_run.tags, first, last):
                continue
            records = instance.get_records_for_run(
                run.dagster_run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
            ).records
            for record in records:
                evaluation = record.event_log_entry.dagster_event.event_specific_data
                days = evaluation.metadata.get("days")
                if days is None:
                    continue
                start, _, end = str(days.value).partition("..")
                outcome = CheckOutcome(
                    evaluation.asset_key.to_user_string(),
                    evaluation.check_name,
                    date.fromisoformat(start),
                    date.fromisoformat(end or start),
                    evaluation.passed,
                    evaluation.severity.value,
                )
                if outcome.last < first or outcome.first > last:
                    continue
                latest.setdefault(
                    (outcome.asset, outcome.check, outcome.first, outcome.last), outcome
                )
    return sorted(latest.values(), key=lambda o: (o.first, o.asset, o.check))


def _may_overlap(tags: dict[str, str], first: date, last: date) -> bool:
    """False when the run's partition tags show it covered none of ``first``..``last``."""
    from orchestration.partitions import RANGE_END_TAG, RANGE_START_TAG

    start = tags.get(RANGE_START_TAG) or tags.get(_PARTITION_TAG)
    end = tags.get(RANGE_END_TAG) or tags.get(_PARTITION_TAG)
    try:
        return not (date.fromisoformat(end) < first or date.fromisoformat(start) > last)
    except (TypeError, ValueError):  # no such tags, or not days: look at its checks
        return True
