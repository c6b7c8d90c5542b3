"""``omnicx tenants``: every tenant with its effective settings, as a table or as JSON."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from orchestration.commands.tenants import tenants
from schemas.settings import load_settings

TOML = """
[warehouse]
tenant_warehouses = ["acme", "nova"]

[[alerts.webhooks]]
name = "crm"
url = "https://crm.example.com/hooks"
secret_env = "CRM_SECRET"

[tenants.acme]
display_name = "Acme Telecom"
time_zone = "Europe/Paris"
retention_days = 30
report_hour = 6
report_recipients = ["boss@acme.example"]
[tenants.acme.kpis]
service_level_voice_seconds = 30
[[tenants.acme.webhooks]]
name = "acme-crm"
url = "https://acme.example/hooks"
secret_env = "ACME_SECRET"

[tenants.bluewave]
report_periods = ["week"]
"""


def settings(tmp_path: Path):
    path = tmp_path / "omnicx.toml"
    path.write_text(TOML)
    return load_settings(environ={}, config_file=path)


def test_json_lists_every_tenant_with_its_effective_settings(tmp_path: Path) -> None:
    result = CliRunner().invoke(tenants, ["--format", "json"], obj=settings(tmp_path))

    assert result.exit_code == 0, result.output
    rows = {row["tenant"]: row for row in json.loads(result.output)}
    assert sorted(rows) == ["acme", "bluewave", "nova"]
    acme, blue, nova = rows["acme"], rows["bluewave"], rows["nova"]
    assert acme["kpi_knobs"]["service_level_voice_seconds"] == 30.0
    assert blue["kpi_knobs"]["service_level_voice_seconds"] == 20.0
    assert acme["own_kpi_knobs"] == ["service_level_voice_seconds"]
    assert acme["webhooks"] == ["crm", "acme-crm"]
    assert blue["webhooks"] == ["crm"]
    assert (acme["retention_days"], blue["retention_days"]) == (30, 0)
    assert (acme["report_hour"], blue["report_periods"]) == (6, ["week"])
    assert acme["own_warehouse"].endswith("tenants/acme.duckdb")
    assert blue["own_warehouse"] is None
    assert nova["time_zone"] == "UTC"  # in tenant_warehouses only: the defaults


def test_the_table_shows_a_tenants_own_values(tmp_path: Path) -> None:
    result = CliRunner().invoke(tenants, [], obj=settings(tmp_path))

    assert result.exit_code == 0, result.output
    assert "Acme Telecom" in result.output
    assert "service_level_voice 30 s *" in result.output
    assert "30 days" in result.output
    assert "weekly at 07:00" in result.output
