"""``omnicx report`` and the Dagster report assets on a real warehouse (the small centre of
tests/orchestration/test_report_build.py, no broker): the files written and printed, the numbers
in the HTML equal to the marts, the default period, one-line errors, the partitions by period and
tenant, the schedules at 07:00 of each tenant's zone, and the e-mail to a real SMTP server on
loopback with the PDF attached."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from pathlib import Path

from click.testing import CliRunner
from dagster import MultiPartitionKey, build_schedule_context

from orchestration.cli import main
from orchestration.commands.report import report as report_command
from orchestration.definitions import build_definitions
from orchestration.reports.model import Period
from orchestration.reports.output import default_period
from orchestration.resources import WarehouseResource
from schemas.settings import EmailSettings, Settings, with_overrides
from tests.orchestration import test_report_build
from tests.orchestration.report_fixtures import assert_html_equals_marts, pdf_pages, read_hooks
from tests.orchestration.test_alerts_email import smtp_server
from tests.orchestration.test_report_build import ACME, BOTH_DAYS
from tests.warehouse.kpi_fixtures import DAY, NEXT_DAY

# The small centre's warehouse, built once for this module too.
warehouse = test_report_build.warehouse


def run(settings: Settings, *args: str):
    return CliRunner().invoke(report_command, list(args), obj=settings)


def test_the_command_writes_html_and_pdf_whose_numbers_are_the_marts(warehouse, tmp_path):
    con, knobs = warehouse
    outcome = run(
        knobs,
        "--from",
        "2026-01-05",
        "--to",
        "2026-01-06",
        "--tenant",
        "acme",
        "--out",
        str(tmp_path),
    )
    assert outcome.exit_code == 0, outcome.output
    html, pdf = (Path(line) for line in outcome.output.splitlines())
    assert (html, pdf) == (
        tmp_path / "acme-range-2026-01-05_2026-01-06.html",
        pdf.with_suffix(".pdf"),
    )
    assert_html_equals_marts(html.read_text(), con, knobs, BOTH_DAYS, "acme")
    tiles = read_hooks(html.read_text()).tiles
    pages = pdf_pages(pdf.read_bytes())
    assert "Acme Ltd: KPI report, 5–6 Jan 2026" in pages[0]
    assert "Page 1 of" in pages[0]
    assert tiles[("offered.v1", "")]["data-value"] == "7"


def test_the_overall_report_holds_every_tenant(warehouse, tmp_path):
    con, knobs = warehouse
    outcome = run(
        knobs,
        "--from",
        "2026-01-05",
        "--to",
        "2026-01-06",
        "--format",
        "html",
        "--out",
        str(tmp_path),
    )
    assert outcome.exit_code == 0, outcome.output
    (html,) = (Path(line) for line in outcome.output.splitlines())
    assert html.name == "all-range-2026-01-05_2026-01-06.html"
    assert_html_equals_marts(html.read_text(), con, knobs, BOTH_DAYS, None)
    assert read_hooks(html.read_text()).tiles[("offered.v1", "")]["data-value"] == "9"


def test_a_period_without_data_and_a_missing_warehouse_are_one_line_errors(warehouse, tmp_path):
    _, knobs = warehouse
    outcome = run(knobs, "--period", "week", "--day", "2025-06-04", "--tenant", "acme")
    assert outcome.exit_code == 1
    assert "no contact of tenant acme from 2025-06-02 to 2025-06-08" in outcome.output
    assert "omnicx refresh --from 2025-06-02 --to 2025-06-08" in outcome.output
    outcome = CliRunner().invoke(main, ["--home", str(tmp_path), "report", "--period", "day"])
    assert outcome.exit_code == 1
    (line,) = outcome.output.splitlines()
    assert line.startswith(f"error: no warehouse at {tmp_path}/warehouse.duckdb")


def test_the_default_period_holds_yesterday_in_the_tenants_zone_or_the_datas_last_day() -> None:
    knobs = Settings(tenants={"acme": ACME})
    # 23:30 UTC on Sunday 11 January is already Monday 12 in Paris: yesterday there is Sunday.
    late = datetime(2026, 1, 11, 23, 30, tzinfo=UTC)
    assert default_period("day", knobs, "acme", date(2026, 3, 1), late) == Period.ending(
        "day", date(2026, 1, 11)
    )
    assert default_period("day", knobs, None, date(2026, 3, 1), late).first_day == date(2026, 1, 10)
    assert default_period("week", knobs, "acme", None, late) == Period(
        "week", date(2026, 1, 5), date(2026, 1, 11)
    )
    # Data that end earlier (a replay, the demo): the period holding their last day.
    assert default_period("month", knobs, "acme", date(2025, 12, 9), late) == Period(
        "month", date(2025, 12, 1), date(2025, 12, 31)
    )


def _definitions(knobs: Settings):
    return build_definitions(with_overrides(knobs, orchestration={"partitions_start": str(DAY)}))


def test_reports_are_partitioned_by_period_and_tenant_with_schedules_in_each_zone(warehouse):
    _, knobs = warehouse
    defs = _definitions(knobs)
    daily = defs.resolve_assets_def("daily_report").partitions_def
    assert daily.get_partitions_def_for_dimension("tenant").get_partition_keys() == [
        "acme",  # configured (and in the lake)
        "brandb",  # in the lake only
        "all",
    ]
    assert daily.get_partitions_def_for_dimension("day").get_first_partition_key() == str(DAY)
    weekly = defs.resolve_assets_def("weekly_report").partitions_def
    assert weekly.get_partitions_def_for_dimension("week").get_first_partition_key() == str(DAY)

    paris = defs.resolve_schedule_def("daily_reports_europe_paris")
    assert (paris.cron_schedule, paris.execution_timezone) == ("0 7 * * *", "Europe/Paris")
    at = datetime(2026, 1, 7, 6, 0, tzinfo=UTC)  # 07:00 in Paris
    repository = defs.get_repository_def()
    context = build_schedule_context(scheduled_execution_time=at, repository_def=repository)
    requests = paris.evaluate_tick(context)
    assert [r.partition_key for r in requests.run_requests] == [
        MultiPartitionKey({"day": "2026-01-06", "tenant": "acme"})
    ]
    utc = defs.resolve_schedule_def("weekly_reports_utc")
    assert utc.cron_schedule == "0 7 * * 1"
    monday = datetime(2026, 1, 12, 7, 0, tzinfo=UTC)
    context = build_schedule_context(scheduled_execution_time=monday, repository_def=repository)
    requests = utc.evaluate_tick(context)
    assert [r.partition_key for r in requests.run_requests] == [
        MultiPartitionKey({"week": "2026-01-05", "tenant": tenant}) for tenant in ("brandb", "all")
    ]


def test_a_daily_report_asset_writes_the_files_and_emails_the_pdf(warehouse, tmp_path):
    _, knobs = warehouse
    with smtp_server() as (box, port):
        mail = EmailSettings(host="127.0.0.1", port=port, starttls=False, sender="r@omnicx.test")
        acme = dataclasses.replace(ACME, report_recipients=("ceo@acme.test",))
        configured = with_overrides(
            knobs, home=tmp_path, alerts={"email": mail}, tenants={"acme": acme}
        )
        # the fixture's lake and warehouse, seen from this home (its reports go to tmp_path)
        (tmp_path / "warehouse.duckdb").symlink_to(knobs.duckdb_file)
        (tmp_path / "lake").symlink_to(knobs.lake_dir)

        class Configured(WarehouseResource):
            def settings(self) -> Settings:
                return configured

        job = _definitions(configured).resolve_job_def("daily_reports")
        key = MultiPartitionKey({"day": str(NEXT_DAY), "tenant": "acme"})
        result = job.execute_in_process(partition_key=key, resources={"warehouse": Configured()})
        empty = MultiPartitionKey({"day": str(DAY), "tenant": "brandb"})  # brand B: 6 Jan only
        quiet = job.execute_in_process(partition_key=empty, resources={"warehouse": Configured()})

    assert result.success and quiet.success
    written = tmp_path / "reports" / "day" / "acme-day-2026-01-06"
    pdf = written.with_suffix(".pdf").read_bytes()
    [(envelope, message)] = box.messages
    assert envelope == ["ceo@acme.test"]
    assert message["Subject"] == "Acme Ltd: KPI report, Tue 6 Jan 2026"
    attached = {
        part.get_filename(): part.get_payload(decode=True) for part in message.iter_attachments()
    }
    assert attached == {"acme-day-2026-01-06.pdf": pdf}
    assert "data-kpi" in message.get_body(("html",)).get_content()
    [materialized] = result.asset_materializations_for_node("daily_report")
    assert materialized.metadata["emailed_to"].value == "ceo@acme.test"
    [nothing] = quiet.asset_materializations_for_node("daily_report")
    assert nothing.metadata["written"].value.startswith("nothing: the warehouse holds no contact")
    assert not list((tmp_path / "reports" / "day").glob("brandb-*"))
