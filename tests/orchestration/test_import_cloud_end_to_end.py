"""Imports of the cloud platforms through the whole pipeline: `omnicx import` of Amazon Connect
contact records and agent events and of Genesys Cloud conversation details to the real broker,
a stream worker, the lake sink and the Dagster refresh; `omnicx kpis` equals the KPIs computed
straight from the files, the rejected records are dead letters, and importing the files again
changes nothing.

One shared run for the three files (two tenants), so the suite pays for one pipeline run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas.settings import Settings, with_overrides
from tests.harness import isolated_settings, run_omnicx, stream_and_land
from tests.orchestration.cloud_import_samples import (
    FIRST,
    LAST,
    connect_kpis,
    connect_occupancy,
    genesys_kpis,
    write_connect_agent_events,
    write_connect_ctr,
    write_genesys,
)
from tests.orchestration.import_pipeline import refresh, tenant_kpis, warehouse_counts
from warehouse.build import connect_read_only

pytestmark = pytest.mark.kafka

CONNECT, GENESYS = "connect-brand", "genesys-brand"  # the tenants of the two platforms


def import_all(settings: Settings, files: dict[str, Path]) -> list[str]:
    outputs = []
    for format_name, tenant in (
        ("amazon-connect-ctr", CONNECT),
        ("amazon-connect-agent-events", CONNECT),
        ("genesys", GENESYS),
    ):
        done = run_omnicx(
            settings, "import", format_name, str(files[format_name]), "--tenant", tenant,
            "--to", "kafka", timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    return outputs


@pytest.fixture(scope="module")
def imported(kafka_settings: Settings, tmp_path_factory: pytest.TempPathFactory):
    settings = isolated_settings(kafka_settings, tmp_path_factory.mktemp("cloud-imports"))
    settings = with_overrides(
        settings,
        warehouse={"sink_group_id": f"{settings.stream.app_id}-sink", "sink_batch_seconds": 1.0},
    )
    exports = settings.home / "exports"
    exports.mkdir()
    files = {
        "amazon-connect-ctr": exports / "connect-ctr.jsonl",
        "amazon-connect-agent-events": exports / "connect-agents.json",
        "genesys": exports / "genesys-details.jsonl",
    }
    write_connect_ctr(files["amazon-connect-ctr"])
    write_connect_agent_events(files["amazon-connect-agent-events"])
    write_genesys(files["genesys"])
    summaries = import_all(settings, files)
    stream_and_land(settings, "cloud-imports")
    refresh(settings, FIRST, LAST)
    first = {
        "kpis": tenant_kpis(settings, FIRST, LAST),
        "counts": warehouse_counts(settings, "int_events", "int_contacts", "int_dead_letters"),
    }
    summaries += import_all(settings, files)
    stream_and_land(settings, "cloud-imports")
    refresh(settings, FIRST, LAST)
    second = {
        "kpis": tenant_kpis(settings, FIRST, LAST),
        "counts": warehouse_counts(settings, "int_events", "int_contacts", "int_dead_letters"),
    }
    return settings, files, summaries, first, second


def test_the_kpis_of_each_platform_equal_those_computed_from_its_files(imported) -> None:
    _, files, _, first, _ = imported
    expected = {
        CONNECT: connect_kpis(files["amazon-connect-ctr"]),
        GENESYS: genesys_kpis(files["genesys"]),
    }
    expected[CONNECT]["occupancy.v1"] = connect_occupancy(files["amazon-connect-agent-events"])
    for tenant, values in expected.items():
        for kpi, value in values.items():
            assert first["kpis"][(kpi, tenant)] == pytest.approx(value, rel=1e-9), (kpi, tenant)
    assert expected[CONNECT]["offered.v1"] > 500 and expected[GENESYS]["offered.v1"] > 400


def rejected_lines(files: dict[str, Path]) -> dict[str, list[int]]:
    """The lines of the records each importer must reject, found by reading the files."""
    ctr = files["amazon-connect-ctr"].read_text().splitlines()
    cut = [n for n, line in enumerate(ctr, 1) if not line.endswith("}")]
    no_times = [n for n, line in enumerate(ctr, 1) if '"c0-bad"' in line]
    agents = files["amazon-connect-agent-events"].read_text()
    junction = agents.rfind("}{", 0, agents.index('"yesterday"'))  # where that record starts
    pages = files["genesys"].read_text().splitlines()
    unfinished = [
        n
        for n, page in enumerate(pages, 1)
        if any("conversationEnd" not in c for c in json.loads(page)["conversations"])
    ]
    return {
        "ctr": sorted(cut + no_times),
        "agents": [agents.count("\n", 0, junction) + 1],
        "genesys": unfinished,
    }


def test_rejected_records_are_dead_letters_and_reimporting_changes_nothing(imported) -> None:
    settings, files, summaries, first, second = imported
    with connect_read_only(settings) as con:
        rows = con.execute(
            "select source_topic, source_offset, errors, tenant, redacted_preview "
            "from int_dead_letters order by all"
        ).fetchall()
    lines = rejected_lines(files)
    assert len(lines["ctr"]) == 2 and len(lines["genesys"]) == 2  # the first page twice
    in_progress = (
        "a conversation still in progress: no conversationEnd: import it once it has ended"
    )
    ctr_reasons = [
        "not JSON: Invalid control character at",
        "a required field is missing: LastUpdateTimestamp",
    ]
    assert rows == sorted(
        [
            ("import:amazon-connect-agent-events:connect-agents.json", lines["agents"][0],
             ["a time without a UTC offset or unreadable: EventTimestamp"], CONNECT, None),
            *(("import:amazon-connect-ctr:connect-ctr.jsonl", line, [reason], CONNECT, None)
              for line, reason in zip(lines["ctr"], ctr_reasons, strict=True)),
            *(("import:genesys:genesys-details.jsonl", line, [in_progress], GENESYS, None)
              for line in lines["genesys"]),
        ]
    )  # fmt: skip
    assert "rejected 2 records (each a dead letter)" in summaries[0]
    assert second["counts"] == first["counts"]
    # Equal up to the order DuckDB sums the handle seconds in (the last bit of a float).
    assert second["kpis"].keys() == first["kpis"].keys()
    for key, value in first["kpis"].items():
        same = value if value is None else pytest.approx(value, rel=1e-12, abs=0)
        assert second["kpis"][key] == same, key
