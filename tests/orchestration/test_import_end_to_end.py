"""Imports through the whole pipeline: `omnicx import` of a queue_log and of a 2021 call-log CSV
(two weeks, closed on the weekend) to the real broker, a stream worker, the lake sink and the
Dagster refresh at their real dates; `omnicx kpis` equals the KPIs computed straight from the
files, every check passes (the closed weekend included), the rejected lines are dead letters
with their file and line, and importing both files again changes nothing. The CSV's two weeks
arrive behind the clock the queue_log moved to its last day, beyond the default 3 days of
contact retention: each import has its own clock (docs/importers.md, History at its
real dates), so they land whole with the default settings.

One shared run for both formats (two tenants), so the suite pays for one pipeline run.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestration.cli import main
from orchestration.reports.build import build_report
from orchestration.reports.model import Period
from pipelines.importers.framework import contact_id
from schemas.settings import Settings, with_overrides
from schemas.settings_env import settings_env
from tests.harness import REPO, isolated_settings, run_omnicx, stream_and_land
from tests.orchestration.import_pipeline import refresh, tenant_kpis, warehouse_counts
from tests.orchestration.import_samples import (
    FIRST,
    LAST,
    NEVER_LEAVES,
    call_log_kpis,
    queue_log_kpis,
    write_call_log,
    write_queue_log,
)
from warehouse.build import connect_read_only

MAPPING = REPO / "docs" / "mappings" / "call-log.toml"
PBX, CRM = "pbx-brand", "csv-brand"  # the tenants of the queue_log and of the CSV
# two imports, stream, sink and refresh runs on a 2-core machine: the fixture's first test waits
pytestmark = pytest.mark.timeout(1200)
COMPARED = ("offered.v1", "asa.v1", "service_level.v1", "abandon_rate.v1", "aht.v1")


def import_both(settings: Settings, queue_log: Path, call_log: Path) -> list[str]:
    outputs = []
    for args in (
        ("queue-log", str(queue_log), "--tenant", PBX),
        ("csv", str(call_log), "--mapping", str(MAPPING), "--tenant", CRM),
    ):
        done = run_omnicx(settings, "import", *args, "--to", "kafka", timeout=300)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    return outputs


@pytest.fixture(scope="module")
def imported(kafka_settings: Settings, tmp_path_factory: pytest.TempPathFactory):
    settings = isolated_settings(kafka_settings, tmp_path_factory.mktemp("imports"))
    settings = with_overrides(
        settings,
        warehouse={"sink_group_id": f"{settings.stream.app_id}-sink", "sink_batch_seconds": 1.0},
    )
    files = settings.home / "exports"
    files.mkdir()
    queue_log, call_log = files / "queue_log", files / "calls-2021.csv"
    write_queue_log(queue_log)
    write_call_log(call_log)
    summaries = import_both(settings, queue_log, call_log)
    stream_and_land(settings, "imports")
    checks = refresh(settings, FIRST, LAST)
    first = {
        "kpis": tenant_kpis(settings, FIRST, LAST),
        "counts": warehouse_counts(
            settings, "int_events", "int_contacts", "int_dead_letters", "int_surveys"
        ),
        "checks": checks,
    }
    again = import_both(settings, queue_log, call_log)
    stream_and_land(settings, "imports")
    refresh(settings, FIRST, LAST)
    second = {
        "kpis": tenant_kpis(settings, FIRST, LAST),
        "counts": warehouse_counts(
            settings, "int_events", "int_contacts", "int_dead_letters", "int_surveys"
        ),
    }
    return settings, (queue_log, call_log), summaries + again, first, second


def test_the_kpis_of_each_import_equal_those_computed_from_its_file(imported) -> None:
    _, (queue_log, call_log), _, first, _ = imported
    for tenant, expected in ((PBX, queue_log_kpis(queue_log)), (CRM, call_log_kpis(call_log))):
        for kpi, value in expected.items():
            assert first["kpis"][(kpi, tenant)] == pytest.approx(value, rel=1e-9), (kpi, tenant)
    assert set(COMPARED) <= {kpi for kpi, tenant in first["kpis"] if tenant == PBX}
    assert ("csat.v1", CRM) in first["kpis"] and ("nps.v1", CRM) in first["kpis"]


def test_2021_refreshes_at_its_real_dates_and_the_closed_weekend_fails_no_check(imported) -> None:
    settings, *_, first, _ = imported
    lines = first["checks"].stdout.splitlines()
    results = [line for line in lines if line.split()[:1] in (["ok"], ["FAIL"])]
    assert results and all(line.startswith("ok ") for line in results), first["checks"].stdout
    outcome = CliRunner().invoke(
        main, ["--home", str(settings.home), "checks", "--format", "json"],
        env=settings_env(settings),
    )  # fmt: skip
    listed = {r["check"]: r for r in json.loads(outcome.stdout)["checks"]}
    assert listed["events_volume"]["details"]["closed_days"] == ["2021-01-09", "2021-01-10"]
    assert listed["events_volume"]["days"] == f"{FIRST}..{LAST}"


def test_rejected_lines_are_dead_letters_with_file_line_and_reason(imported) -> None:
    """Each rejected line is one dead letter naming its file, line and reason, with no
    preview and no value of the line: imported twice, it was published twice, and counts once
    (one rejection: the same source coordinates, like a batch the stream read again)."""
    settings, (queue_log, _), summaries, *_ = imported
    with connect_read_only(settings) as con:
        rows = con.execute(
            "select source_topic, source_offset, errors, tenant, redacted_preview, rejections "
            "from int_dead_letters order by all"
        ).fetchall()
        (published,) = con.execute("select count(*) from stg_dead_letters").fetchone()
    cut, bogus = (
        n + 1
        for n, line in enumerate(queue_log.read_text().splitlines())
        if line.count("|") == 2 or "BOGUS" in line
    )
    assert rows == sorted(
        [
            ("import:csv:calls-2021.csv", 102, ["unreadable date or time: start"], CRM, None, 1),
            ("import:csv:calls-2021.csv", 902, ["NPS answer not 0-10: nps"], CRM, None, 1),
            ("import:queue-log:queue_log", cut, ["not a queue_log line: 3 fields"], PBX, None, 1),
            ("import:queue-log:queue_log", bogus, ["unknown queue_log event: BOGUS"], PBX, None, 1),
        ]
    )
    assert published == 8
    assert "rejected 2 records (each a dead letter)" in summaries[0]
    assert "rejected 2 records (each a dead letter)" in summaries[1]


def test_a_call_that_never_left_its_queue_is_closed_as_incomplete(imported) -> None:
    settings, *_ = imported
    with connect_read_only(settings) as con:
        status = con.execute(
            "select status, first_queued_at is not null from int_contacts where contact_id = ?",
            [contact_id("queue-log", PBX, NEVER_LEAVES)],
        ).fetchall()
    assert status == [("incomplete", True)]


def test_importing_the_same_files_again_changes_nothing(imported) -> None:
    *_, first, second = imported
    assert second["counts"] == first["counts"]
    assert second["kpis"] == first["kpis"]
    assert first["counts"]["int_dead_letters"] == 4


def test_the_2021_call_log_reports_at_its_real_dates(imported) -> None:
    settings, *_, first, _ = imported
    report = build_report(
        settings, None, Period.between(FIRST, LAST), CRM, datetime(2021, 1, 18, 7, tzinfo=UTC)
    )
    (offered,) = [t.value for t in report.tiles if t.kpi == "offered.v1"]
    assert offered == first["kpis"][("offered.v1", CRM)] > 0
    days = {day for series in report.volume_by_channel.series for day, v in series.points if v}
    assert min(days) == FIRST and max(days) == LAST
    assert not days & {date(2021, 1, 9), date(2021, 1, 10)}  # the closed weekend
    saturday, sunday = report.heatmap.rows[5], report.heatmap.rows[6]
    assert saturday[0] == "Sat" and sum(saturday[1:]) == sum(sunday[1:]) == 0
