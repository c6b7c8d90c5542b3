"""A Dagster refresh under other knobs adds its knob set to the published marts, names it in the
kpi_marts materializations, and keeps the rows of the set published before."""

from __future__ import annotations

import shutil

from click.testing import CliRunner
from dagster import AssetKey, DagsterInstance

from orchestration.cli import main
from tests.orchestration.test_dagster_refresh import CONFIG, home_settings, refreshed_home
from tests.warehouse.kpi_fixtures import DAY, NEXT_DAY, settings
from warehouse.build import connect_read_only
from warehouse.kpi_marts import knob_set_id, mart_knobs

__all__ = ["refreshed_home"]  # the module-scoped fixture this file reuses

AT_60 = settings(service_level_voice_seconds=60.0)


def test_a_refresh_under_other_knobs_adds_a_set_and_names_it(refreshed_home, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(refreshed_home[0], home)
    first, second = knob_set_id(mart_knobs(settings())), knob_set_id(mart_knobs(AT_60))

    def rows_of(knob_set: str) -> list[tuple]:
        with connect_read_only(home_settings(home)) as con:
            return con.execute(
                "select * from mart_contact_kpis_hourly where knob_set = ? order by all",
                [knob_set],
            ).fetchall()

    before = rows_of(first)
    config = home / "omnicx.toml"
    config.write_text(CONFIG + "\n[kpis]\nservice_level_voice_seconds = 60.0\n")
    days = ["--from", DAY.isoformat(), "--to", NEXT_DAY.isoformat()]
    outcome = CliRunner().invoke(
        main, ["--config", str(config), "--home", str(home), "refresh", *days]
    )
    assert outcome.exit_code == 0, outcome.output
    with DagsterInstance.local_temp(tempdir=str(home / "dagster")) as instance:
        latest = instance.get_latest_materialization_event(AssetKey("mart_contact_kpis_hourly"))
        assert latest.asset_materialization.metadata["knob_set"].value == second
    # the build carried the first set's rows over, untouched, beside the second set's
    assert rows_of(first) == before
    assert len(rows_of(second)) == len(before) > 0
    # voice answers after 10, 25, 10 and 10 s: 3 within 20 s, all 4 within 60 s
    with connect_read_only(home_settings(home)) as con:
        met = con.execute(
            "select knob_set, sum(answered_within_threshold) from mart_contact_kpis_hourly "
            "where channel = 'voice' group by knob_set"
        ).fetchall()
    assert dict(met) == {first: 3, second: 4}
