"""A tenant's scheduled reports follow its report_periods and report_hour (docs/tenancy.md)."""

from __future__ import annotations

from dataclasses import replace

from orchestration.reports.assets import report_schedule, zones
from schemas.settings import Settings, TenantSettings


def test_each_tenant_is_scheduled_at_its_hour_for_its_periods() -> None:
    settings = replace(
        Settings(),
        tenants={
            "early": TenantSettings(time_zone="Europe/Paris", report_hour=6),
            "weekly": TenantSettings(time_zone="Europe/Paris", report_periods=("week",)),
        },
    )
    tenants = ["early", "weekly", "plain", "all"]

    daily, weekly = zones(settings, tenants, "day"), zones(settings, tenants, "week")

    assert daily == {
        ("Europe/Paris", 6): ["early"],
        ("UTC", 7): ["plain", "all"],
    }
    assert weekly == {
        ("Europe/Paris", 6): ["early"],
        ("Europe/Paris", 7): ["weekly"],
        ("UTC", 7): ["plain", "all"],
    }
    six = report_schedule("day", "Europe/Paris", ["early"], 6)
    assert (six.name, six.cron_schedule) == ("daily_reports_europe_paris_06h", "0 6 * * *")
    seven = report_schedule("week", "Europe/Paris", ["weekly"])
    assert (seven.name, seven.cron_schedule) == ("weekly_reports_europe_paris", "0 7 * * 1")
