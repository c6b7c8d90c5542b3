"""Several simulation runs into one deployment: the warehouse holds the union of their truths.

Two seeds on two start days are simulated one after the other into the same topics (the second
by `omnicx simulate --seed 4 --start 2026-01-06 --to kafka`, reading its truth from `--out`),
then one stream worker, the sink and the Dagster refresh run over both, as in test_end_to_end. Nothing of one run may collide with the other: every contact,
journey and dead letter of both truths is in the warehouse once, and each day's KPIs are those
of the run that simulated it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import orjson
import pytest

from orchestration.commands.refresh import run_refresh
from pipelines.simulator import files
from pipelines.simulator.config import SimulationConfig
from schemas.settings import Settings, with_overrides
from tests.harness import (
    OmnicxProcess,
    isolated_settings,
    stream_and_land,
)
from tests.orchestration.truth_kpis import assert_kpis_equal, kpis_by
from tests.streams.test_stream_pipeline import Simulated
from tests.warehouse.duckdb_cli import cli_query
from warehouse.build import connect_read_only

DAY_1, DAY_2 = date(2026, 1, 5), date(2026, 1, 6)
RUNS = (
    SimulationConfig(seed=3, days=1, agents=12, tenants=2, start=DAY_1),
    SimulationConfig(seed=4, days=1, agents=12, tenants=2, start=DAY_2),
)


class WrittenTruth:
    """The ground truth `omnicx simulate --out DIR` wrote."""

    def __init__(self, directory: Path) -> None:
        self.ground_truth = orjson.loads((directory / files.GROUND_TRUTH).read_bytes())
        self.contacts = _by(directory / files.CONTACTS, "contact_id")
        self.journeys = _by(directory / files.JOURNEYS, "journey_id")


def _by(path: Path, key: str) -> dict[str, dict]:
    records = (orjson.loads(line) for line in path.read_bytes().splitlines())
    return {record[key]: record for record in records}


@pytest.fixture(scope="module")
def two_runs(kafka_settings: Settings, tmp_path_factory: pytest.TempPathFactory):
    settings = isolated_settings(kafka_settings, tmp_path_factory.mktemp("two-runs"))
    settings = with_overrides(
        settings,
        warehouse={"sink_group_id": f"{settings.stream.app_id}-sink", "sink_batch_seconds": 1.0},
    )
    first = Simulated(settings, RUNS[0])
    out = settings.home / "second-run"
    second = RUNS[1]
    simulate = OmnicxProcess(
        settings,
        *("simulate", "--seed", str(second.seed), "--start", second.start.isoformat()),
        *("--days", str(second.days), "--agents", str(second.agents)),
        *("--tenants", str(second.tenants), "--to", "kafka", "--out", str(out)),
        log_name="simulate",
    )
    assert simulate.process.wait(300) == 0, simulate.log_tail()
    truths = [first, WrittenTruth(out)]
    stream_and_land(settings, "two-runs")
    refresh = run_refresh(settings, DAY_1, DAY_2, None)
    assert refresh.success
    with connect_read_only(settings) as con:
        yield con, truths, settings


def test_the_warehouse_holds_the_contacts_and_journeys_of_both_runs(two_runs) -> None:
    con, truths, _ = two_runs
    contacts = {
        row[0]: row[1:]
        for row in con.execute(
            "select contact_id, tenant, status, round(talk_seconds, 3) from int_contacts"
        ).fetchall()
    }
    want = {
        cid: (
            c["tenant"],
            c["status"],
            None if c["talk_seconds"] is None else round(c["talk_seconds"], 3),
        )
        for truth in truths
        for cid, c in truth.contacts.items()
    }
    assert sum(len(t.contacts) for t in truths) == len(want)  # no id shared by the runs
    assert contacts == want
    journeys = dict(con.execute("select journey_id, contact_ids from int_journeys").fetchall())
    assert journeys == {
        jid: j["contact_ids"] for truth in truths for jid, j in truth.journeys.items()
    }
    (events,) = con.execute("select count(*) from int_events").fetchone()
    (dead,) = con.execute("select count(*) from int_dead_letters").fetchone()
    assert events == sum(t.ground_truth["faults"]["events"] for t in truths)
    assert dead == sum(t.ground_truth["faults"]["malformed"] for t in truths)


def test_each_day_has_the_kpis_of_the_run_that_simulated_it(two_runs) -> None:
    con, truths, settings = two_runs
    by_day = kpis_by(con, settings, DAY_1, DAY_2, ["day"])
    by_day_and_tenant = kpis_by(con, settings, DAY_1, DAY_2, ["day", "tenant"])
    # The union of both ground truths, nothing more: one run a day.
    assert set(by_day) == {(config.start.isoformat(),) for config in RUNS}
    for config, truth in zip(RUNS, truths, strict=True):
        day, kpis = config.start.isoformat(), truth.ground_truth["kpis"]
        assert_kpis_equal(by_day[(day,)], kpis["by_day"][day], day)
        for tenant, expected in kpis["by_tenant"].items():  # a one-day run: its day's tenants
            assert_kpis_equal(by_day_and_tenant[(day, tenant)], expected, f"{day} {tenant}")


def test_the_published_warehouse_answers_in_the_duckdb_cli(two_runs) -> None:
    _, truths, settings = two_runs
    query = "select count(distinct contact_id) as n, min(started_day) as first from int_contacts"
    (got,) = cli_query(settings.duckdb_file, query)
    assert got == {"n": sum(len(t.contacts) for t in truths), "first": DAY_1.isoformat()}
