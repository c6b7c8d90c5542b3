"""The Dagster asset checks: each expectation suite on its view, and the journey reconciliation.

The suites are blocking: when one fails (severity ERROR), the KPI marts downstream of its view
do not run, so that published KPIs are never computed from duplicated or out-of-range data.
Each result carries its counts and the failed expectations as metadata, and the Great
Expectations Data Docs are rebuilt under ``$OMNICX_HOME/gx/data_docs``. The suites of a run
validate in one Great Expectations context (``ValidationResource``).
"""

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    MetadataValue,
    asset_check,
)

from orchestration.checks.gx_validation import data_docs_index, plain, validate
from orchestration.checks.suites import SUITES, Suite
from orchestration.partitions import partition_days
from orchestration.resources import ValidationResource, WarehouseResource
from warehouse.kpi_checks import journey_mismatches

_EXAMPLES = 10


def _suite_check(suite: Suite) -> AssetChecksDefinition:
    @asset_check(asset=suite.asset, name=suite.name, blocking=True, description=suite.description)
    def check(
        context: AssetCheckExecutionContext,
        warehouse: WarehouseResource,
        validation: ValidationResource,
    ) -> AssetCheckResult:
        date_from, date_to = partition_days(context)
        settings = warehouse.settings()
        with warehouse.read() as con:
            frame = con.execute(suite.query, {"date_from": date_from, "date_to": date_to}).df()
        result = validate(
            frame,
            suite.name,
            suite.expectations(settings),
            settings,
            run_name=f"{date_from}..{date_to} run {context.run.run_id[:8]}",
            docs_index=not warehouse.docs_index_after_run,
            session=validation.session(settings),
        )
        return AssetCheckResult(
            passed=result.success,
            severity=AssetCheckSeverity.ERROR,
            metadata={
                "days": f"{date_from}..{date_to}",
                "rows": result.rows,
                "expectations": result.evaluated,
                "failed_expectations": MetadataValue.json(result.failed),
                "data_docs": MetadataValue.path(data_docs_index(settings)),
                **(
                    {k: MetadataValue.json(v) for k, v in suite.details(frame, settings).items()}
                    if suite.details
                    else {}
                ),
            },
        )

    return check


@asset_check(asset="mart_journeys_recomputed", name="stream_journeys_agree", blocking=False)
def stream_journeys_agree(
    context: AssetCheckExecutionContext, warehouse: WarehouseResource
) -> AssetCheckResult:
    """The stream's journeys (int_journeys) are the ones SQL recomputes from int_contacts with
    the configured repeat window: same journeys, same contacts, same resolution at first contact.
    A difference means the stream ran with other knobs, or lags, or has a bug."""
    date_from, date_to = partition_days(context)
    with warehouse.read() as con:
        compared, mismatches = journey_mismatches(con, date_from, date_to)
    return AssetCheckResult(
        passed=not mismatches,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "days": f"{date_from}..{date_to}",
            "journeys_compared": compared,
            "mismatches": len(mismatches),
            "examples": MetadataValue.json(plain(mismatches[:_EXAMPLES])),
        },
    )


CHECKS = [*(_suite_check(suite) for suite in SUITES), stream_journeys_agree]
