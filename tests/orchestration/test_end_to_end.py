"""The whole pipeline on the real broker against the simulator's ground truth.

Two simulated days with duplicates, disorder, late and malformed messages go through Kafka, a
stream worker, the lake sink and the Dagster refresh (the same job the schedule runs), once per
session for several test files (``simulated_pipeline``, tests/simulated_pipeline.py); then the
warehouse must hold exactly the simulator's contacts, journeys and rejected messages, and every
KPI of ``ground_truth.json`` (overall, per tenant, channel and day) must come out of the marts:
exact for counts and ratios of counts, within 0.1% for means.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb
import orjson
import pytest

from orchestration.definitions import build_definitions, warehouse_asset_names
from schemas.identifiers import IDENTIFIER_KINDS, normalise
from schemas.settings import Settings, with_overrides
from tests.orchestration.truth_kpis import assert_kpis_equal, kpis_by
from tests.simulated_pipeline import (
    FIRST_DAY,
    LAST_DAY,
    LAST_LOCAL_DAY,
    TOKYO_TENANT,
    SimulatedPipeline,
)
from warehouse.build import connect_read_only
from warehouse.kpis import kpi_values

GROUPINGS = {"by_tenant": "tenant", "by_channel": "channel", "by_day": "day"}
# the definitions' assets and checks (their partitions start does not matter here)
DEFS = build_definitions(
    with_overrides(Settings(), orchestration={"partitions_start": FIRST_DAY.isoformat()})
)


@pytest.fixture(scope="module")
def pipeline(simulated_pipeline: SimulatedPipeline):
    """The session's simulated run (tests/simulated_pipeline.py): stream, sink and refresh."""
    run = simulated_pipeline
    with connect_read_only(run.settings) as con:
        yield con, run.truth, run.settings, run.refresh


def test_the_dagster_refresh_materializes_everything_and_every_check_passes(pipeline) -> None:
    *_, refresh = pipeline
    assert refresh.success
    evaluations = refresh.get_asset_check_evaluations()
    checks = {key.name for key in DEFS.resolve_asset_graph().asset_check_keys}
    assert {e.asset_check_key.name for e in evaluations} == checks
    failed = [e.asset_check_key.name for e in evaluations if not e.passed]
    assert failed == []
    assets = warehouse_asset_names(DEFS)
    materialized = {
        e.asset_key.to_user_string() for e in refresh.get_asset_materialization_events()
    }
    assert materialized == assets


def test_the_warehouse_holds_exactly_the_simulated_contacts(pipeline) -> None:
    con, truth, *_ = pipeline
    got = {
        row[0]: row[1:]
        for row in con.execute(
            "select contact_id, tenant, channel, status, disposition, abandoned, deflected, "
            "transfers, round(hold_seconds, 3), round(talk_seconds, 3), round(acw_seconds, 3), "
            "nps, csat, ces from int_contacts"
        ).fetchall()
    }
    want = {
        c["contact_id"]: (
            c["tenant"],
            c["channel"],
            c["status"],
            c["disposition"],
            c["abandoned"],
            c["deflected"],
            c["transfers"],
            round(c["hold_seconds"], 3),
            None if c["talk_seconds"] is None else round(c["talk_seconds"], 3),
            None if c["acw_seconds"] is None else round(c["acw_seconds"], 3),
            c["nps"],
            c["csat"],
            c["ces"],
        )
        for c in truth.contacts.values()
    }
    assert got == want


def test_the_warehouse_holds_exactly_the_simulated_journeys(pipeline) -> None:
    con, truth, *_ = pipeline
    got = {
        jid: (key, list(contacts), resolved)
        for jid, key, contacts, resolved in con.execute(
            "select journey_id, customer_key, contact_ids, resolved_at_first_contact "
            "from int_journeys"
        ).fetchall()
    }
    want = {
        j["journey_id"]: (j["customer_key"], j["contact_ids"], j["resolved_at_first_contact"])
        for j in truth.journeys.values()
    }
    assert got == want


def test_every_event_once_and_every_malformed_message_dead_lettered_once(pipeline) -> None:
    con, truth, *_ = pipeline
    (events,) = con.execute("select count(*) from int_events").fetchone()
    (dead,) = con.execute("select count(*) from int_dead_letters").fetchone()
    valid_ids = {m for m in truth.messages if m not in truth.malformed}
    assert dead == sum(truth.malformed.values())
    assert events == len(valid_ids)  # duplicates are identical bytes: one per distinct message


def test_every_kpi_equals_the_ground_truth(pipeline) -> None:
    con, truth, settings, _ = pipeline
    kpis = truth.ground_truth["kpis"]
    (overall,) = kpis_by(con, settings, FIRST_DAY, LAST_LOCAL_DAY, []).values()
    assert_kpis_equal(overall, kpis["overall"], "overall")
    for grouping, column in GROUPINGS.items():
        ours = kpis_by(con, settings, FIRST_DAY, LAST_LOCAL_DAY, [column])
        assert len(kpis[grouping]) >= 2
        for key, expected in kpis[grouping].items():
            assert_kpis_equal(ours.get((key,), {}), expected, f"{grouping} {key}")


def test_a_tokyo_tenants_kpis_fall_on_its_local_days_as_in_the_truth(pipeline) -> None:
    con, truth, settings, _ = pipeline
    # the simulated UTC days are three Tokyo days; the UTC tenant keeps two
    assert sorted(truth.ground_truth["kpis"]["by_day"]) == [
        str(FIRST_DAY + timedelta(days=n)) for n in range(3)
    ]
    days = con.execute(
        "select tenant, max(day) from mart_contact_kpis_hourly group by tenant order by tenant"
    ).fetchall()
    assert dict(days) == {"acme-telecom": LAST_DAY, TOKYO_TENANT: LAST_LOCAL_DAY}
    (offered,) = [
        row["value"]
        for row in kpi_values(con, LAST_LOCAL_DAY, LAST_LOCAL_DAY, ["tenant"], settings)
        if row["kpi"] == "offered.v1"
    ]
    assert offered == truth.ground_truth["kpis"]["by_day"][str(LAST_LOCAL_DAY)]["offered.v1"]


def test_the_published_warehouse_opens_read_only_in_any_duckdb_client(pipeline) -> None:
    _, truth, settings, _ = pipeline
    with duckdb.connect(str(Path(settings.duckdb_file)), read_only=True) as other:
        (contacts,) = other.execute("select count(*) from int_contacts").fetchone()
    assert contacts == len(truth.contacts)


def _raw_personal_data(messages: list[bytes]) -> set[str]:
    """Every identifier (phone, e-mail, chat visitor id, social handle, customer and account id)
    the simulator sent, as written and normalised, and every message text; junk identifiers
    ("0000000000", "unknown") are no one's and are left out."""
    found: set[str] = set()
    for raw in messages:
        try:
            event = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue  # malformed copies of valid messages: their values are found in those
        if not isinstance(event, dict):
            continue
        customer = event.get("customer")
        for kind, value in customer.items() if isinstance(customer, dict) else ():
            normalised = normalise(kind, value) if kind in IDENTIFIER_KINDS else None
            if normalised is not None:
                found.update((str(value).strip(), normalised))
        attributes = event.get("attributes")
        if isinstance(attributes, dict) and isinstance(attributes.get("text"), str):
            found.add(attributes["text"])
    return found


def test_no_raw_identifier_or_message_text_in_any_analyst_visible_relation(pipeline) -> None:
    con, truth, *_ = pipeline
    personal = _raw_personal_data(truth.messages)
    assert len(personal) > 100  # phones, e-mails, handles, ids and texts were sent
    relations = [
        name
        for (name,) in con.execute(
            "select table_name from duckdb_tables() where not internal "
            "union select view_name from duckdb_views() where not internal"
        ).fetchall()
    ]
    assert {"int_contacts", "int_events", "int_dead_letters", "stg_dead_letters"} <= set(relations)
    scan = duckdb.connect()
    scan.execute(
        "create table personal as select unnest($values) as value", {"values": [*personal]}
    )
    leaks = {}
    for name in relations:
        rows = con.execute(f'select cast(r as varchar) as row_text from "{name}" as r').fetchall()
        scan.execute(
            "create or replace table rows as select unnest($rows) as row_text",
            {"rows": [row for (row,) in rows]},
        )
        found = scan.execute(
            "select distinct p.value from rows join personal as p "
            "on contains(rows.row_text, p.value) limit 5"
        ).fetchall()
        if found:
            leaks[name] = [value for (value,) in found]
    assert leaks == {}, leaks
