"""`omnicx outbound` on the hand-made day of tests/warehouse/outbound_fixtures.py: eight dialer
attempts over two campaigns, four of them to customers who had opted out."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from orchestration.cli import main
from tests.warehouse.kpi_fixtures import DAY, build_int_layer, settings
from tests.warehouse.outbound_fixtures import violations_day
from warehouse.kpi_marts import refresh_marts


@pytest.fixture
def home(tmp_path: Path) -> Path:
    contacts, events = violations_day()
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    build_int_layer(con, contacts, events=events)
    con.execute("insert into int_customer_keys values ('acme', 'email:e', 'erin')")
    refresh_marts(con, DAY, DAY, settings())
    con.close()
    return tmp_path


def omnicx_outbound(home: Path, *args: str):
    command = ["--home", str(home), "outbound", "--from", str(DAY)]
    return CliRunner(env={"COLUMNS": "200"}).invoke(main, [*command, *args], prog_name="omnicx")


def test_json_gives_each_campaign_and_dialer_mode_with_exact_rates(home):
    outcome = omnicx_outbound(home, "--format", "json")
    assert (outcome.exit_code, outcome.stderr) == (0, "")
    rows = {(r["tenant"], r["campaign"], r["dialer"]): r for r in json.loads(outcome.stdout)}
    assert set(rows) == {
        ("acme", "renewals", "predictive"),
        ("acme", "renewals", "preview"),
        ("acme", "winback", "predictive"),
    }
    renewals = rows[("acme", "renewals", "predictive")]
    # a1 a2 a5 a6 a7 a8: no answer but a6's voicemail
    assert (renewals["attempts"], renewals["connected"], renewals["connect_rate"]) == (6, 0, 0.0)
    preview = rows[("acme", "renewals", "preview")]
    assert (preview["attempts"], preview["connected"], preview["connect_rate"]) == (1, 1, 1.0)
    assert preview["abandoned"] == 1  # connected, and its contact ended without an agent
    assert preview["handle_time"] is None


def test_violations_are_listed_and_counted_on_the_terminal(home):
    listed = omnicx_outbound(home, "--violations", "--format", "csv")
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    assert lines[0].startswith("day,tenant,event_id,contact_id")
    assert [line.split(",")[2] for line in lines[1:]] == ["a2", "a4", "a6", "a7"]
    table = omnicx_outbound(home)
    assert table.exit_code == 0, table.output
    assert "4 opt-out violation(s)" in table.stdout
    assert "renewals" in table.stdout and "winback" in table.stdout
