"""`omnicx kpis --profile NAME` and `--compare a,b` on a warehouse holding the hand-made centre
of tests/warehouse/test_kpi_profiles.py under some profiles' knob sets."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from orchestration.cli import main
from orchestration.resources import WarehouseResource
from schemas.profiles import DEFAULT, profile, profile_settings
from tests.warehouse.kpi_fixtures import DAY, build_int_layer
from tests.warehouse.test_kpi_profiles import KNOBS, centre
from warehouse.kpi_marts import refresh_marts
from warehouse.kpis import kpi_values

STORED = (DEFAULT, "amazon-connect", "genesys")


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("home")
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    build_int_layer(con, centre())
    for name in STORED:
        refresh_marts(con, DAY, DAY, profile_settings(KNOBS, name))
    con.close()
    (home / "omnicx.toml").write_text("")
    return home


def omnicx_kpis(home: Path, *args: str):
    config = home / "omnicx.toml"
    command = ["--home", str(home), "--config", str(config), "kpis", "--from", str(DAY), *args]
    return CliRunner().invoke(main, command, prog_name="omnicx")


def exact(home: Path, name: str) -> dict[str, float | None]:
    """Each KPI of the voice channel under the profile, read directly (kpi_values)."""
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        rows = kpi_values(con, DAY, DAY, ["channel"], KNOBS, profile=profile(name))
    finally:
        con.close()
    return {r["kpi"]: r["value"] for r in rows}


def test_profile_reads_the_numbers_under_the_vendors_definitions(home):
    outcome = omnicx_kpis(home, "--profile", "amazon-connect", "--long", "--format", "json")
    assert (outcome.exit_code, outcome.stderr) == (0, "")
    rows = {r["kpi"]: r for r in json.loads(outcome.stdout)}
    assert rows["service_level.v1"]["value"] == 0.6  # 3 of 5 removed from the queue in 20 s
    assert rows["service_level.v1"]["knobs"]["abandon_treatment"] == "positive"
    assert "fcr.v1" not in rows  # Amazon Connect has no contact FCR


def test_profile_table_says_what_it_leaves_out_and_what_it_approximates(home):
    outcome = omnicx_kpis(home, "--profile", "genesys")
    assert outcome.exit_code == 0, outcome.stderr
    lines = outcome.stdout.splitlines()
    fcr = lines[lines.index("Resolution (journeys)") + 3]
    assert fcr.split() == ["75.0%"]  # next contact avoided, the only resolution shown
    assert "  fcr_net.v1 not shown: Genesys Cloud has no net resolution" in lines
    assert any(line.startswith("  fcr.v1: next contact avoided: ") for line in lines)


def test_compare_gives_each_profiles_exact_values_side_by_side(home):
    outcome = omnicx_kpis(home, "--compare", "amazon-connect,genesys", "--format", "json")
    assert (outcome.exit_code, outcome.stderr) == (0, "")
    rows = json.loads(outcome.stdout)
    voice = {r["kpi"]: r for r in rows if r["channel"] in ("voice", "all")}
    sl = voice["service_level.v1"]
    # Genesys at omnicx's short-abandon interval: the same service level, another resolution
    assert (sl[DEFAULT], sl["amazon-connect"], sl["genesys"]) == (0.25, 0.6, 0.25)
    assert (voice["fcr.v1"][DEFAULT], voice["fcr.v1"]["genesys"]) == (0.0, 0.75)
    assert voice["fcr.v1"]["amazon-connect"] is None
    # every value equals the profile's own exact value
    for name in (DEFAULT, "amazon-connect", "genesys"):
        expected = exact(home, name)
        for kpi, row in voice.items():
            assert row[name] == expected.get(kpi), (name, kpi)
    assert voice["service_level.v1"]["unit"] == "fraction"
    assert not any(r["kpi"].startswith("service_level.v1.") for r in rows)


def test_compare_table_shows_people_units_and_says_what_cannot_be_reproduced(home):
    outcome = omnicx_kpis(home, "--compare", "amazon-connect,genesys")
    assert outcome.exit_code == 0, outcome.stderr
    lines = outcome.stdout.splitlines()
    header = next(line for line in lines if "amazon-connect" in line and "KPI" in line)
    assert header.split()[-3:] == ["default", "amazon-connect", "genesys"]
    sl = next(line for line in lines if line.split()[:3] == ["voice", "Service", "level"])
    assert sl.split()[-3:] == ["25.0%", "60.0%", "25.0%"]
    fcr = next(line for line in lines if line.split()[:2] == ["all", "FCR"])
    assert fcr.split()[-3:] == ["0.0%", "n/a", "75.0%"]
    assert "IVR contained by self-service" in outcome.stdout  # named outside its family
    assert (
        "  fcr.v1, fcr_net.v1, fcr_channel.v1, repeat_rate.v1: Amazon Connect publishes no "
        "first-contact resolution" in outcome.stdout
    )


def test_a_profile_whose_knob_set_was_not_refreshed_names_the_refresh(tmp_path):
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    build_int_layer(con, centre())
    refresh_marts(con, DAY, DAY, KNOBS)  # omnicx's default knobs only
    con.close()
    (tmp_path / "omnicx.toml").write_text("")
    outcome = omnicx_kpis(tmp_path, "--profile", "talkdesk")
    assert outcome.exit_code == 1
    (line,) = outcome.stderr.splitlines()
    assert line.startswith(f"error: the marts hold {DAY} for knob sets ")
    assert "not for the knobs of profile talkdesk " in line
    assert "(short_abandon_seconds=0)" in line
    assert f"(run `omnicx refresh --profile talkdesk --from {DAY} --to {DAY}` to compute" in line
    docs = Path(__file__).resolve().parents[2] / "docs" / "kpis.md"
    assert line in docs.read_text().splitlines()  # the example of docs/kpis.md is this one
    # Genesys reads the default knob set (same short-abandon interval), Talkdesk lacks its own
    compared = omnicx_kpis(tmp_path, "--compare", "genesys,talkdesk")
    assert compared.exit_code == 1
    assert "`omnicx refresh --profile talkdesk --from" in compared.stderr


def test_profiles_with_the_same_knobs_share_a_knob_set(home):
    # Talkdesk counts every abandon, as Amazon Connect does: its counts are stored already,
    # and only the read-time treatment differs (negative: 1 of 5)
    outcome = omnicx_kpis(home, "--profile", "talkdesk", "--long", "--format", "json")
    assert (outcome.exit_code, outcome.stderr) == (0, "")
    rows = {r["kpi"]: r for r in json.loads(outcome.stdout)}
    assert rows["service_level.v1"]["value"] == 0.2


def test_unknown_profiles_and_mixed_options_are_usage_errors(home):
    unknown = omnicx_kpis(home, "--profile", "avaya")
    assert unknown.exit_code == 2
    assert "no profile 'avaya' (choose among default, amazon-connect" in unknown.stderr
    assert omnicx_kpis(home, "--compare", "genesys,avaya").exit_code == 2
    assert omnicx_kpis(home, "--compare", "genesys", "--long").exit_code == 2
    assert omnicx_kpis(home, "--profile", "genesys", "--knobs", "all").exit_code == 2


def test_the_refresh_resource_computes_under_the_profiles_knobs(home):
    resource = WarehouseResource(config_file=str(home / "omnicx.toml"), profile="amazon-connect")
    kpis = resource.settings().kpis
    assert (kpis.short_abandon_seconds, kpis.abandon_treatment) == (0.0, "positive")
    plain = WarehouseResource(config_file=str(home / "omnicx.toml")).settings().kpis
    assert plain.short_abandon_seconds == 5.0
