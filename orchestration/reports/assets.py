"""The reports in the asset graph: ``daily_report`` and ``weekly_report``, partitioned by period ×
tenant, their jobs, and their schedules at 07:00 in each tenant's reporting time zone.

Partitions (docs/reports.md, Scheduled reports): two dimensions, the period (``day``: daily
partitions from the warehouse's first partition; ``week``: Monday-to-Sunday weeks from the
Monday on or before it) and ``tenant``: every tenant of the settings (``[tenants.NAME]``) and of
the lake's events when Dagster loads the definitions, and ``all`` for the overall report. A
period key is a day of the tenant's own reporting time zone, as the marts count it.

Each materialization writes the HTML and the PDF under ``$OMNICX_HOME/reports/<day|week>/``
(``write_report``) and e-mails them to the tenant's ``report_recipients`` (``send_report``,
over the SMTP server of the alerts); a partition whose tenant had no contact in the period
writes nothing and says so in its metadata.
"""

import re
from collections.abc import Iterator
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import duckdb
from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    AssetSelection,
    DailyPartitionsDefinition,
    DefaultScheduleStatus,
    MaterializeResult,
    MetadataValue,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    StaticPartitionsDefinition,
    WeeklyPartitionsDefinition,
    asset,
    define_asset_job,
    schedule,
)

from orchestration.reports.model import Period
from orchestration.reports.output import (
    ALL_TENANTS,
    FORMATS,
    NoReportData,
    reports_dir,
    write_report,
)
from orchestration.resources import WarehouseResource
from schemas.settings import Settings
from warehouse.build import lake_view_sql
from warehouse.tables import EVENTS

REPORT_GROUP = "reports"
KINDS = {"day": "daily", "week": "weekly"}  # period kind -> the asset's and job's prefix
DEFAULT_HOUR = 7  # a tenant's reports are scheduled at its report_hour, 07:00 by default
CRONS = {"day": "0 7 * * *", "week": "0 7 * * 1"}  # 07:00; weekly on Mondays


def report_tenants(settings: Settings) -> list[str]:
    """The tenant partitions: the configured tenants, the tenants of the lake's events, and
    ``all`` (the overall report)."""
    with duckdb.connect() as con:
        con.execute(lake_view_sql(EVENTS, settings.lake_dir))
        rows = con.execute(f"select distinct tenant from lake_{EVENTS.name}").fetchall()
    seen = {tenant for (tenant,) in rows}
    return [*sorted((set(settings.tenants) | seen) - {None, ALL_TENANTS}), ALL_TENANTS]


def report_partitions(kind: str, start: date, tenants: list[str]) -> MultiPartitionsDefinition:
    # end_offset=1: the day (week) in progress in UTC exists, so that a tenant ahead of UTC
    # (Asia/Tokyo) finds yesterday's partition at 07:00 of its own morning.
    periods = (
        DailyPartitionsDefinition(start_date=start.isoformat(), end_offset=1)
        if kind == "day"
        else WeeklyPartitionsDefinition(
            start_date=(start - timedelta(days=start.weekday())).isoformat(),
            day_offset=1,
            end_offset=1,
        )
    )
    return MultiPartitionsDefinition({kind: periods, "tenant": StaticPartitionsDefinition(tenants)})


def _report_asset(kind: str, partitions: MultiPartitionsDefinition, owner: str) -> AssetsDefinition:
    @asset(
        name=f"{KINDS[kind]}_report",
        group_name=REPORT_GROUP,
        partitions_def=partitions,
        kinds={"html", "pdf"},
        owners=[owner],
        description=f"The {KINDS[kind]} executive KPI report of one tenant (or of all), as HTML "
        f"and PDF under the reports folder, e-mailed to the tenant's report recipients "
        f"(docs/reports.md).",
    )
    def report_asset(
        context: AssetExecutionContext, warehouse: WarehouseResource
    ) -> MaterializeResult:
        keys = context.partition_key.keys_by_dimension
        tenant = None if keys["tenant"] == ALL_TENANTS else keys["tenant"]
        period = Period.ending(kind, date.fromisoformat(keys[kind]))
        settings = warehouse.settings()
        try:
            paths = write_report(settings, period, tenant, FORMATS, reports_dir(settings) / kind)
        except NoReportData as exc:
            context.log.warning(f"no report written: {exc}")
            return MaterializeResult(metadata={"written": f"nothing: {exc}"})
        recipients = email_report(settings, tenant, period, paths)
        metadata = {f"{p.suffix[1:]}": MetadataValue.path(str(p)) for p in paths}
        metadata["emailed_to"] = ", ".join(recipients) or "nobody (no report recipients)"
        return MaterializeResult(metadata=metadata)

    return report_asset


def email_report(settings: Settings, tenant: str | None, period: Period, paths) -> tuple[str, ...]:
    """E-mail the written report to its recipients: the PDF attached, the HTML as the body."""
    from orchestration.reports.delivery import send_report

    name = (settings.tenant(tenant).display_name or tenant) if tenant else "All brands"
    html = next(p for p in paths if p.suffix == ".html").read_text()
    text = (
        f"The KPI report of {name} for {period.label} is attached as PDF; the HTML version "
        "is this e-mail's alternative part."
    )
    pdfs = [p for p in paths if p.suffix == ".pdf"]
    return send_report(settings, tenant, f"{name}: KPI report, {period.label}", text, html, pdfs)


def report_job(kind: str):
    return define_asset_job(
        f"{KINDS[kind]}_reports",
        selection=AssetSelection.assets(f"{KINDS[kind]}_report"),
        description=f"Write (and e-mail) the {KINDS[kind]} reports of the chosen partitions.",
    )


JOBS = [report_job(kind) for kind in KINDS]


def _zone_slug(zone: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", zone.lower()).strip("_")


def report_schedule(
    kind: str, zone: str, tenants: list[str], hour: int = DEFAULT_HOUR
) -> ScheduleDefinition:
    """``hour`` o'clock (07:00 by default) in ``zone`` (Mondays for the weekly report): one run
    per tenant of that zone and hour, for the period that ended (yesterday, or last
    Monday-to-Sunday week)."""
    suffix = "" if hour == DEFAULT_HOUR else f"_{hour:02d}h"

    @schedule(
        name=f"{KINDS[kind]}_reports_{_zone_slug(zone)}{suffix}",
        job_name=f"{KINDS[kind]}_reports",
        cron_schedule=CRONS[kind].replace(f" {DEFAULT_HOUR} ", f" {hour} ", 1),
        execution_timezone=zone,
        default_status=DefaultScheduleStatus.STOPPED,
        description=f"{hour:02d}:00 {zone}{' on Mondays' if kind == 'week' else ''}: the "
        f"{KINDS[kind]} reports of {', '.join(tenants)}, for the {kind} that ended.",
    )
    def reports(context: ScheduleEvaluationContext) -> Iterator[RunRequest]:
        today = context.scheduled_execution_time.astimezone(ZoneInfo(zone)).date()
        ended = Period.ending(kind, today - timedelta(days=1 if kind == "day" else 7))
        for tenant in tenants:
            key = MultiPartitionKey({kind: ended.first_day.isoformat(), "tenant": tenant})
            yield RunRequest(run_key=f"{kind}-{key}", partition_key=key)

    return reports


def zones(settings: Settings, tenants: list[str], kind: str) -> dict[tuple[str, int], list[str]]:
    """The tenants of each reporting time zone and hour that get the ``kind`` report
    (``[tenants.NAME] report_periods``, ``report_hour``; the overall report: UTC, 07:00)."""
    by_zone: dict[tuple[str, int], list[str]] = {}
    for tenant in tenants:
        if tenant == ALL_TENANTS:
            by_zone.setdefault(("UTC", DEFAULT_HOUR), []).append(tenant)
            continue
        own = settings.tenant(tenant)
        if kind in own.report_periods:
            by_zone.setdefault((own.time_zone, own.report_hour), []).append(tenant)
    return by_zone


def report_definitions(
    settings: Settings, start: date
) -> tuple[list[AssetsDefinition], list[ScheduleDefinition]]:
    """The report assets and their schedules, from the settings and the lake's tenants."""
    tenants = report_tenants(settings)
    owner = settings.orchestration.asset_owner
    assets = [_report_asset(kind, report_partitions(kind, start, tenants), owner) for kind in KINDS]
    schedules = [
        report_schedule(kind, zone, members, hour)
        for kind in KINDS
        for (zone, hour), members in zones(settings, tenants, kind).items()
    ]
    return assets, schedules
