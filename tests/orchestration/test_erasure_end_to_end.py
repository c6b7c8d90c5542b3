"""``omnicx erase`` and ``omnicx tenants remove`` on a real pipeline run (docs/tenancy.md, Erasure
and offboarding): one small simulated day of two brands streamed, landed and refreshed on the
session's broker (the shared ``simulated_pipeline`` is read-only, so this module runs its own),
then erased through the command line, with the stream worker and the sink stopped."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import orjson
import pyarrow.parquet as pq
import pytest

from orchestration.commands.refresh import run_refresh
from orchestration.erasure import STREAM_TABLES, changelog_topic
from orchestration.kafka.records import read_latest
from pipelines.producer import produce
from pipelines.simulator.config import SimulationConfig
from pipelines.simulator.run import Simulation
from schemas.identifiers import hash_identifier, normalise
from schemas.settings import Settings, with_overrides
from schemas.times import format_utc, parse_rfc3339
from schemas.topics import topic_names
from tests.harness import isolated_settings, run_omnicx, stream_and_land
from warehouse.build import connect_read_only
from warehouse.erasure import landed_entries
from warehouse.tables import LAKE_TABLES

DAY = date(2026, 1, 5)
CONFIG = SimulationConfig(seed=1, days=1, agents=6, tenants=2, load=0.15, start=DAY)
# The marts of aggregates whose values must not change: only customer keys are erased.
KPI_MARTS = (
    "mart_contact_kpis_hourly",
    "mart_journey_kpis_daily",
    "mart_survey_kpis_daily",
    "mart_first_responses",
)


@dataclass
class Run:
    settings: Settings
    messages: list[dict]  # the raw events sent, decoded (malformed ones left out)
    kpis: dict[str, list[tuple]]  # KPI_MARTS after the first refresh


@pytest.fixture(scope="module")
def run(kafka_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Run:
    home = tmp_path_factory.mktemp("erasure")
    settings = isolated_settings(kafka_settings, home)
    settings = with_overrides(
        settings,
        warehouse={"sink_group_id": f"{settings.topics.prefix}sink", "sink_batch_seconds": 0.5},
    )
    simulation = Simulation(CONFIG, settings)
    raw = list(simulation.messages())
    produce(raw, settings)
    stream_and_land(settings, "erasure")
    assert run_refresh(settings, DAY, DAY, None).success
    return Run(settings, decoded_events(raw), kpi_marts(settings))


def decoded_events(raw: list[bytes]) -> list[dict]:
    """The events among the messages sent (malformed ones left out)."""
    out = []
    for value in raw:
        try:
            event = orjson.loads(value)
        except orjson.JSONDecodeError:
            continue
        if isinstance(event, dict) and isinstance(event.get("contact_id"), str):
            out.append(event)
    return out


def kpi_marts(settings: Settings) -> dict[str, list[tuple]]:
    """Every row of the KPI marts; sums of seconds to the microsecond (a sum of doubles
    depends on the order DuckDB's threads add them in, in the last bits)."""
    with connect_read_only(settings) as con:
        marts = {name: con.execute(f"select * from {name}").fetchall() for name in KPI_MARTS}
    return {
        name: sorted(
            (tuple(round(v, 6) if isinstance(v, float) else v for v in row) for row in rows),
            key=repr,
        )
        for name, rows in marts.items()
    }


def multichannel_customer(settings: Settings) -> tuple[str, str, list[str]]:
    """A customer with contacts on three channels: tenant, customer key, contact ids."""
    with connect_read_only(settings) as con:
        tenant, key, contacts = con.execute(
            "select tenant, customer_key, list(contact_id order by contact_id) from int_contacts "
            "where customer_key in (select customer_key from int_customer_keys "
            "where identifier like 'phone:%') group by all "
            "having count(distinct channel) >= 3 order by all limit 1"
        ).fetchone()
    return tenant, key, contacts


def everything_stored(settings: Settings) -> dict[str, str]:
    """Where the pipeline keeps data, as text per place: every lake file, every table of the
    analysts' warehouse, the stream's changelogs and the compacted topics (latest records)."""
    places = {}
    for table in LAKE_TABLES:
        for entry in landed_entries(settings.lake_dir, table):
            rows = pq.read_table(entry.lake_file.path).to_pylist()
            places[str(entry.lake_file.path)] = orjson.dumps(rows, default=str).decode()
    with connect_read_only(settings) as con:
        tables = con.execute("select table_name from duckdb_tables()").fetchall()
        for (name,) in tables:
            rows = con.execute(f"select * from {name}").fetchall()
            places[f"warehouse {name}"] = repr(rows)
    names = topic_names(settings)
    topics = [changelog_topic(settings, t) for t in STREAM_TABLES]
    topics += [names.customers, names.contacts, names.journeys, names.business_keys]
    for topic in topics:
        latest = read_latest(settings, topic)
        places[topic] = repr(sorted(latest.items()))
    return places


def mentioning(places: dict[str, str], values: set[str]) -> list[str]:
    return sorted(place for place, text in places.items() if any(v in text for v in values))


def test_an_erased_customer_is_nowhere_kpis_stay_and_the_phone_starts_anew(run: Run) -> None:
    settings = run.settings
    tenant, key, contact_ids = multichannel_customer(settings)
    with connect_read_only(settings) as con:
        rows = con.execute(
            "select identifier from int_customer_keys where tenant = ? and customer_key = ?",
            [tenant, key],
        ).fetchall()
        offered = con.execute(
            "select contact_id from int_contacts where list_contains(?, contact_id) "
            "and coalesce(direction, 'inbound') <> 'outbound' and not deflected "
            "and (answered_at is not null or (first_queued_at is not null and not short_abandon))",
            [contact_ids],
        ).fetchall()
    hashes = {identifier for (identifier,) in rows}
    # Their phone, as the source systems sent it.
    pii_key = settings.pii_key
    phone = min(
        value
        for event in run.messages
        if event.get("tenant") == tenant
        for kind, value in (event.get("customer") or {}).items()
        if kind == "phone"
        and normalise(kind, value) is not None
        and hash_identifier(kind, normalise(kind, value), pii_key) in hashes
    )
    before = everything_stored(settings)
    assert mentioning(before, hashes | {key}), "the customer is in the stored data to begin with"

    erased = run_omnicx(
        settings, "erase", "--tenant", tenant, "--identifier", f"phone={phone}", timeout=600
    )
    assert erased.returncode == 0, erased.stderr
    assert "1 customer(s)" in erased.stdout

    after = everything_stored(settings)
    assert mentioning(after, hashes | {key}) == []
    # their contacts are still there (anonymised), every KPI of the day too, after the
    # refresh the erasure ran over the lake it rewrote
    with connect_read_only(settings) as con:
        (kept,) = con.execute(
            "select count(distinct customer_key) from int_contacts where list_contains(?, contact_id)",
            [contact_ids],
        ).fetchone()
    assert kept == 1
    assert kpi_marts(settings) == run.kpis
    # the erasure's log says what it touched, never who
    (line,) = (settings.home / "erasure" / "log.jsonl").read_text().splitlines()
    logged = orjson.loads(line)
    assert logged["tenant"] == tenant and logged["contacts"] == len(contact_ids)
    assert logged["identifiers_requested"] == {"phone": 1}
    assert mentioning({"log": line}, hashes | {key, phone}) == []

    # The same phone calls again a day later, within the repeat window: a new customer.
    contact = next(
        e["contact_id"]
        for e in run.messages
        if (e["contact_id"],) in offered and (e.get("customer") or {}).get("phone") == phone
    )
    produce([again(e, phone) for e in run.messages if e["contact_id"] == contact], settings)
    stream_and_land(settings, "erasure")
    phone_hash = hash_identifier("phone", normalise("phone", phone), pii_key)
    customers = read_latest(settings, topic_names(settings).customers)
    record = orjson.loads(customers[(0, f"{tenant}|{phone_hash}".encode())])
    assert (record["customer_key"], record["version"]) == (phone_hash, 1)
    journeys = [
        orjson.loads(v) for v in read_latest(settings, topic_names(settings).journeys).values()
    ]
    (journey,) = [j for j in journeys if j["customer_key"] == phone_hash]
    assert journey["contact_ids"] == [f"{contact}-again"]


def again(event: dict, phone: str) -> bytes:
    """The event of a new contact, the same a day later, from the phone alone."""
    copy = {
        **event,
        "event_id": f"{event['event_id']}-again",
        "contact_id": f"{event['contact_id']}-again",
        "occurred_at": format_utc(parse_rfc3339(event["occurred_at"]) + 86400),
    }
    if "customer" in copy:
        copy["customer"] = {"phone": phone}
    return orjson.dumps(copy)


def test_a_removed_tenant_leaves_nothing_and_the_other_keeps_its_kpis(run: Run) -> None:
    settings = run.settings
    tenants = sorted({e["tenant"] for e in run.messages})
    gone, kept = tenants
    removed = run_omnicx(settings, "tenants", "remove", gone, "--yes", timeout=600)
    assert removed.returncode == 0, removed.stderr
    stored = everything_stored(settings)
    assert mentioning(stored, {f'"{gone}"', f"'{gone}'", f"{gone}|"}) == []
    after = kpi_marts(settings)
    for name, rows in run.kpis.items():
        assert [r for r in after[name] if gone in r] == []
        # the other brand's KPIs of the day (the first test may have added a contact later)
        assert [r for r in after[name] if kept in r and on_day(r)] == [
            r for r in rows if kept in r and on_day(r)
        ], name


def on_day(row: tuple) -> bool:
    return any(
        (isinstance(v, datetime) and v.date() == DAY) or (type(v) is date and v == DAY) for v in row
    )
