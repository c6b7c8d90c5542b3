"""The ``retention`` job: every tenant's contact-level data older than its ``retention_days``
dropped, its daily aggregates kept (warehouse.retention, docs/tenancy.md, Retention); daily at
02:30 UTC, and in process through ``enforce_retention``."""

from dataclasses import dataclass
from datetime import UTC, date, datetime

from dagster import DefaultScheduleStatus, OpExecutionContext, ScheduleDefinition, job, op

from orchestration.resources import WarehouseResource
from schemas.settings import Settings
from warehouse.retention import Cutoffs, first_kept_days, prune_marts, read_cutoffs, write_cutoffs


@dataclass(frozen=True)
class RetentionOutcome:
    cutoffs: Cutoffs  # tenant -> first kept business day
    marts_deleted: dict[str, int]  # contact-level mart -> rows deleted


def enforce_retention(settings: Settings, today: date) -> RetentionOutcome:
    """Publish the tenants' first kept days for the sinks (which drop the lake's expired rows of
    the partitions they own), delete the contact-level marts' expired rows in a rebuilt
    warehouse, then rebuild the tenants' own files from it."""
    from warehouse.build import build_warehouse
    from warehouse.tenant_warehouse import build_tenant_warehouses

    cutoffs = first_kept_days(settings, today)
    write_cutoffs(settings.lake_dir, cutoffs)
    deleted: dict[str, int] = {}
    if settings.duckdb_file.exists():
        # a fresh file: a copy could keep the expired rows' bytes in its free space
        build_warehouse(
            settings, marts=lambda con: deleted.update(prune_marts(con, cutoffs)), fresh=True
        )
        build_tenant_warehouses(settings)
    return RetentionOutcome(cutoffs, deleted)


def retention_status(settings: Settings) -> dict[str, tuple[int, date | None]]:
    """Tenant -> (retention days, first kept day the last retention run published: None when
    none did yet), for every tenant with a retention."""
    published = read_cutoffs(settings.lake_dir)
    return {
        name: (tenant.retention_days, published.get(name))
        for name, tenant in sorted(settings.tenants.items())
        if tenant.retention_days
    }


@op
def apply_retention(context: OpExecutionContext, warehouse: WarehouseResource) -> None:
    """Drop the contact-level data past each tenant's retention."""
    outcome = enforce_retention(warehouse.settings(), datetime.now(UTC).date())
    kept = ", ".join(f"{t} from {d}" for t, d in outcome.cutoffs.items()) or "no tenant has one"
    context.log.info(
        f"first kept days: {kept}; contact-level mart rows deleted: {outcome.marts_deleted or 0}"
    )


@job(
    description="Drop every tenant's contact-level data older than its retention_days (lake "
    "rows through the sinks, contact-level mart rows), keeping the daily aggregates."
)
def retention() -> None:
    apply_retention()


RETENTION_SCHEDULE = ScheduleDefinition(
    name="daily_retention",
    job=retention,
    cron_schedule="30 2 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.STOPPED,
    description="02:30 UTC: the retention job.",
)
