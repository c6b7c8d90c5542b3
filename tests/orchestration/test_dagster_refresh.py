"""The ``refresh`` job of orchestration.definitions over a two-day partition range, on a lake
landed from hand-made facts (later: a real stream run), through ``omnicx refresh`` and the
function behind it: every asset materializes and the checks pass; corrupted data fails the
blocking checks and leaves the published marts as they were; ``omnicx kpis`` reads them; a
refresh under other knobs adds its knob set beside the first."""

from __future__ import annotations

import json
import re
import shutil
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from dagster import AssetKey, DagsterInstance

import warehouse.build
from orchestration.checks.suites import SUITES
from orchestration.cli import main
from orchestration.commands.refresh import run_refresh
from orchestration.definitions import build_definitions, warehouse_asset_names
from orchestration.reports.checks import check_outcomes
from schemas.profiles import profile, profile_settings
from schemas.settings import Settings, with_overrides
from tests.warehouse.kpi_fixtures import (
    DAY,
    NEXT_DAY,
    contact,
    kpis,
    refreshed,
    settings,
    small_centre,
    survey,
    utc,
    write_lake,
)
from warehouse.build import connect_read_only
from warehouse.kpi_marts import knob_set_id, mart_knobs
from warehouse.kpis import kpi_values

DEFS = build_definitions(
    with_overrides(settings(), orchestration={"partitions_start": DAY.isoformat()})
)

CONFIG = """
[checks]
dead_letter_max_share = 0.2
"""


def omnicx(home: Path, *args: str):
    """``omnicx --config <home>/omnicx.toml --home <home> ARGS``, in process."""
    config_file = home / "omnicx.toml"
    config_file.write_text(CONFIG)
    return CliRunner().invoke(main, ["--config", str(config_file), "--home", str(home), *args])


def home_settings(home: Path) -> Settings:
    return with_overrides(settings(), home=home)


def asset_names() -> set[str]:
    """The refresh job's assets: every asset but the reports (partitioned by period and tenant,
    materialized by their own jobs)."""
    return warehouse_asset_names(DEFS)


@pytest.fixture(scope="module")
def refreshed_home(tmp_path_factory):
    """A home whose lake holds the small centre, refreshed by ``omnicx refresh``."""
    home = tmp_path_factory.mktemp("home")
    write_lake(home_settings(home), dead_letters=["not json {"], **small_centre())
    outcome = omnicx(home, "refresh", "--from", DAY.isoformat(), "--to", NEXT_DAY.isoformat())
    return home, outcome


def test_every_asset_of_the_partitions_materializes_and_every_check_passes(refreshed_home):
    home, outcome = refreshed_home
    assert outcome.exit_code == 0, outcome.output
    # stdout only: Great Expectations may draw progress bars on stderr
    lines = outcome.stdout.splitlines()
    assert (
        lines[0] == f"materialized {len(asset_names())} assets: {', '.join(sorted(asset_names()))}"
    )
    checks = {key.name for key in DEFS.resolve_asset_graph().asset_check_keys}
    assert sorted(line.split()[1] for line in lines[1:]) == sorted(checks)
    assert all(line.startswith("ok ") for line in lines[1:])
    with DagsterInstance.local_temp(tempdir=str(home / "dagster")) as instance:
        (run,) = instance.get_runs()
        assert run.job_name == "refresh"
        for name in asset_names():
            assert instance.get_materialized_partitions(AssetKey(name)) == {
                DAY.isoformat(),
                NEXT_DAY.isoformat(),
            }
    # the Data Docs: the index (rendered once, after the run) links this run's validation of
    # every suite, each suite has its page
    docs = home / "gx" / "data_docs"
    index = (docs / "index.html").read_text()
    listed = re.findall(rf"validations/(\w+)/[^/]*%20run%20{run.run_id[:8]}/[^']*\.html", index)
    assert sorted(listed) == sorted(suite.name for suite in SUITES)
    assert {page.stem for page in (docs / "expectations").glob("*.html")} == set(listed)


def test_the_published_kpis_equal_the_marts_built_on_the_same_facts(refreshed_home):
    home, _ = refreshed_home
    centre = small_centre()
    contacts = centre.pop("contacts")
    expected = kpis(
        refreshed(contacts, date_to=NEXT_DAY, **centre), ("day", "channel"), date_to=NEXT_DAY
    )
    with connect_read_only(home_settings(home)) as con:
        published = kpis(con, ("day", "channel"), date_to=NEXT_DAY)
    assert published == expected
    assert published[("aht.v1", DAY, "voice")]["denominator"] == 2


def test_corrupted_data_fails_the_blocking_checks_and_the_marts_stay_as_published(
    refreshed_home, tmp_path, monkeypatch
):
    home = tmp_path / "home"
    shutil.copytree(refreshed_home[0], home)
    with connect_read_only(home_settings(home)) as con:
        before = kpis(con, date_to=NEXT_DAY)
    # a survey scored 11, a contact with a negative talk time, and an event sent twice ...
    broken = contact(
        "bad", "2026-01-06T15:00:00", queued=20.0, answered=10.0, ended=5.0, customer="zed"
    )
    resent = {
        "event_id": "resent",
        "event_type": "contact.started",
        "occurred_at": utc("2026-01-06T15:00:00"),
        "tenant": "acme",
        "channel": "voice",
        "direction": "inbound",
        "contact_id": "bad",
    }
    write_lake(
        home_settings(home),
        [broken],
        surveys=[survey("s-bad", "bad", "2026-01-06T15:10:00", nps=11)],
        events=[resent, resent],
        partition=1,
    )
    # ... that an intermediate layer without de-duplication lets through
    build = warehouse.build.build_warehouse

    def without_dedup(settings, marts=None):
        def views(con):
            con.execute("create or replace view int_events as select * from stg_events")
            if marts is not None:
                marts(con)

        return build(settings, marts=views)

    monkeypatch.setattr(warehouse.build, "build_warehouse", without_dedup)
    result = run_refresh(home_settings(home), DAY, NEXT_DAY, home / "omnicx.toml")
    assert not result.success
    failed = {
        e.asset_check_key.name: e.metadata["failed_expectations"].value
        for e in result.get_asset_check_evaluations()
        if not e.passed
    }
    assert set(failed) == {"events_valid", "contacts_valid", "surveys_valid"}
    assert {f["expectation"] for f in failed["events_valid"]} == {
        "expect_compound_columns_to_be_unique"  # event_id within its contact
    }
    assert {(f.get("column"), f["expectation"]) for f in failed["contacts_valid"]} == {
        ("talk_seconds", "expect_column_values_to_be_between"),
        (None, "expect_column_pair_values_a_to_be_greater_than_b"),
    }
    assert failed["surveys_valid"][0]["unexpected_examples"] == [11]
    views = {
        (a, d.isoformat())
        for a in asset_names()
        if a.startswith(("stg_", "int_"))
        for d in (DAY, NEXT_DAY)
    }
    assert {
        (e.asset_key.to_user_string(), e.partition)
        for e in result.get_asset_materialization_events()
    } == views
    with connect_read_only(home_settings(home)) as con:
        assert kpis(con, date_to=NEXT_DAY) == before
    # a report's data quality names them: the newer run's outcome of each check and days wins
    # over the first refresh's, which still gives the checks this run did not reach
    outcomes = check_outcomes(home_settings(home).dagster_home, NEXT_DAY, NEXT_DAY)
    assert {o.check for o in outcomes if not o.passed} == set(failed)
    assert {o.check for o in outcomes} == {
        key.name for key in DEFS.resolve_asset_graph().asset_check_keys
    }
    assert (
        check_outcomes(home_settings(home).dagster_home, date(2025, 1, 1), date(2025, 1, 2)) == []
    )


def test_omnicx_kpis_reads_the_published_marts_as_json(refreshed_home):
    home, _ = refreshed_home
    outcome = omnicx(
        home,
        "kpis",
        "--from",
        DAY.isoformat(),
        "--to",
        NEXT_DAY.isoformat(),
        "--by",
        "tenant,channel",
        "--long",
        "--format",
        "json",
    )
    assert outcome.exit_code == 0, outcome.output
    rows = json.loads(outcome.stdout)
    with connect_read_only(home_settings(home)) as con:
        expected = kpis(con, ("tenant", "channel"), date_to=NEXT_DAY)
    assert {(r["kpi"], r["tenant"], r["channel"]): r["value"] for r in rows} == {
        key: row["value"] for key, row in expected.items()
    }
    fcr = next(r for r in rows if r["kpi"] == "fcr.v1" and r["channel"] == "voice")
    assert set(fcr) == {
        "kpi",
        "value",
        "tenant",
        "channel",
        "numerator",
        "denominator",
        "knob_set",
        "knobs",
    }
    assert fcr["knobs"] == {"repeat_window_days": 7.0, "short_abandon_seconds": 5.0}


def test_omnicx_kpis_as_a_table_names_the_knob_sets(refreshed_home):
    home, _ = refreshed_home
    outcome = omnicx(home, "kpis", "--from", DAY.isoformat(), "--long")
    assert outcome.exit_code == 0, outcome.output
    lines = outcome.stdout.splitlines()
    assert lines[0].split("|")[0].strip() == "kpi"
    assert lines[-1].startswith("knob set ")
    assert "abandon_treatment=negative" in lines[-1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["refresh", "--from", "2026-01-06", "--to", "2026-01-05"], "--from is after --to"),
        (["refresh", "--to", "2999-01-01"], "has no partition yet"),
        (["kpis", "--from", "2026-01-05", "--by", "weekday"], "choose among"),
        (["kpis", "--from", "2026-01-06", "--to", "2026-01-05"], "2026-01-05 is before --from"),
    ],
)
def test_bad_arguments_are_refused_before_anything_runs(tmp_path, args, message):
    outcome = omnicx(tmp_path, *args)
    assert outcome.exit_code == 2
    assert outcome.stdout == ""
    (line,) = outcome.stderr.splitlines()
    assert line.startswith("error: ")
    assert message in line


def test_omnicx_kpis_for_days_without_data_says_so(refreshed_home):
    home, _ = refreshed_home
    outcome = omnicx(home, "kpis", "--from", "2025-12-01", "--to", "2025-12-02")
    assert outcome.exit_code == 1
    assert outcome.stdout == ""
    assert outcome.stderr.splitlines() == [
        "error: the KPI marts hold no data for 2025-12-01..2025-12-02 "
        "(run `omnicx refresh --from 2025-12-01 --to 2025-12-02` first)"
    ]


# A Dagster refresh under other knobs adds its knob set to the published marts, names it in the
# kpi_marts materializations, and keeps the rows of the set published before (on a copy of the
# module's refreshed home).
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


def test_a_refresh_under_a_profile_adds_its_knob_set_for_compare(refreshed_home, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(refreshed_home[0], home)
    amazon = knob_set_id(mart_knobs(profile_settings(settings(), "amazon-connect")))
    days = ["--from", DAY.isoformat(), "--to", NEXT_DAY.isoformat()]
    before = omnicx(home, "kpis", *days, "--compare", "amazon-connect")
    assert before.exit_code == 1
    assert "run `omnicx refresh --profile amazon-connect --from" in before.stderr
    outcome = omnicx(home, "refresh", *days, "--profile", "amazon-connect")
    assert outcome.exit_code == 0, outcome.output
    with DagsterInstance.local_temp(tempdir=str(home / "dagster")) as instance:
        latest = instance.get_latest_materialization_event(AssetKey("mart_contact_kpis_hourly"))
        assert latest.asset_materialization.metadata["knob_set"].value == amazon
    compared = omnicx(home, "kpis", *days, "--by", "channel", "--compare", "amazon-connect")
    assert compared.exit_code == 0, compared.output
    with connect_read_only(home_settings(home)) as con:
        expected = {
            (r["kpi"], r["channel"]): r["value"]
            for r in kpi_values(
                con, DAY, NEXT_DAY, ["channel"], settings(), profile=profile("amazon-connect")
            )
        }
    rows = json.loads(
        omnicx(
            home,
            "kpis",
            *days,
            "--by",
            "channel",
            "--compare",
            "amazon-connect",
            "--format",
            "json",
        ).stdout
    )
    assert rows and all(r["amazon-connect"] == expected.get((r["kpi"], r["channel"])) for r in rows)
