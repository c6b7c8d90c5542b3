"""Write a report's files: ``write_report`` builds the model from the published warehouse and
writes its HTML and/or PDF (``omnicx report`` and the Dagster report assets both call it).

Files are named ``<tenant or all>-<kind>-<first day>[_<last day>].<format>`` in the output
folder (default: ``$OMNICX_HOME/reports``), and written aside then renamed into place: a reader
or a mail never sees half a file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from orchestration.reports.model import Period, Report
from schemas.settings import Settings

FORMATS = ("html", "pdf")
ALL_TENANTS = "all"  # the file and partition name of the overall report (every tenant)


class NoReportData(LookupError):
    """The warehouse holds no contact of the tenant in the period."""


def reports_dir(settings: Settings) -> Path:
    """Where reports are written unless told otherwise (and where the Dagster assets write)."""
    return settings.home / "reports"


def report_stem(tenant: str | None, period: Period) -> str:
    days = period.first_day.isoformat()
    if period.last_day != period.first_day:
        days += f"_{period.last_day.isoformat()}"
    return f"{tenant or ALL_TENANTS}-{period.kind}-{days}"


def last_data_day(con: duckdb.DuckDBPyConnection, tenant: str | None) -> date | None:
    """The last reporting day holding a contact of the tenant (any tenant: ``None``)."""
    (day,) = con.execute(
        "select max(day) from mart_contact_kpis_hourly where ? is null or tenant = ?",
        [tenant, tenant],
    ).fetchone()
    return day


def default_period(
    kind: str, settings: Settings, tenant: str | None, last_day: date | None, now: datetime
) -> Period:
    """The period of ``kind`` holding the reference day: the last complete day in the tenant's
    reporting time zone (yesterday there), or the data's last day when the data end earlier (a
    replay, the demo). ``last_day``: the data's last day, ``None`` when there is no data."""
    zone = ZoneInfo(settings.tenant(tenant).time_zone if tenant else "UTC")
    yesterday = now.astimezone(zone).date() - timedelta(days=1)
    reference = yesterday if last_day is None else min(yesterday, last_day)
    return Period.ending(kind, reference)


def build(settings: Settings, period: Period, tenant: str | None, generated_at: datetime) -> Report:
    """The report model of the tenant's period, from the tenant's own warehouse file when it has
    one (docs/tenancy.md), else from the published warehouse, filtered by tenant."""
    from orchestration.reports.build import build_report
    from warehouse.tenant_warehouse import connect_scope

    with connect_scope(settings, tenant) as con:
        if not _has_contacts(con, period, tenant):
            who = f"tenant {tenant}" if tenant else "any tenant"
            raise NoReportData(
                f"the warehouse holds no contact of {who} from {period.first_day} to "
                f"{period.last_day}"
            )
        return build_report(settings, con, period, tenant, generated_at)


def _has_contacts(con: duckdb.DuckDBPyConnection, period: Period, tenant: str | None) -> bool:
    (count,) = con.execute(
        "select count(*) from mart_contact_kpis_hourly where day between ? and ? "
        "and (? is null or tenant = ?)",
        [period.first_day, period.last_day, tenant, tenant],
    ).fetchone()
    return count > 0


def write_report(
    settings: Settings,
    period: Period,
    tenant: str | None,
    formats: Iterable[str],
    out: Path | None = None,
    generated_at: datetime | None = None,
) -> list[Path]:
    """Build the report of ``tenant`` (``None``: every tenant) over ``period`` and write it in
    each of ``formats`` under ``out`` (default: ``reports_dir``); the paths written."""
    report = build(settings, period, tenant, generated_at or datetime.now(UTC))
    return write_files(report, formats, out or reports_dir(settings))


def write_files(report: Report, formats: Iterable[str], out: Path) -> list[Path]:
    """The report's files, one per format, under ``out``; the HTML is rendered once."""
    wanted = list(dict.fromkeys(formats))
    unknown = [f for f in wanted if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown report format {unknown}: choose among {', '.join(FORMATS)}")
    # here, not at import: the rendering loads matplotlib (0.7 s), which every process that
    # loads the Dagster definitions (each run the daemon launches) would pay for nothing
    from orchestration.reports.render import render_html, render_pdf

    html = render_html(report)
    out.mkdir(parents=True, exist_ok=True)
    stem = report_stem(report.tenant, report.period)
    written = []
    for fmt in wanted:
        content = html.encode() if fmt == "html" else render_pdf(html)
        written.append(_write_atomically(out / f"{stem}.{fmt}", content))
    return written


def _write_atomically(path: Path, content: bytes) -> Path:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(descriptor, "wb") as file:
        file.write(content)
    os.chmod(temporary, 0o644)  # a report is read by others (a web server, a mailer)
    os.replace(temporary, path)
    return path
