"""The Prometheus endpoints of a real stream worker and a real lake sink (docs/streams.md and
docs/warehouse.md, Metrics): both run as ``omnicx`` processes on the session's simulated days
(``simulated_pipeline``), and what they export, scraped over HTTP, must equal what the simulator
injected and what Kafka and the lake hold."""

from __future__ import annotations

from collections import Counter

import duckdb
import orjson

from schemas.topics import topic_names
from tests.harness import read_topic
from tests.simulated_pipeline import SimulatedPipeline
from warehouse.build import lake_view_sql
from warehouse.tables import EVENTS, LAKE_TABLES

# The simulator's kinds of malformed message, as the stream's dead-letter reasons.
REASON_OF_KIND = {
    "not_json": "not_json",
    "missing_field": "schema",
    "wrong_type": "schema",
    "unknown_event_type": "unknown_type",
    "bad_time": "schema",
}


def test_the_worker_and_the_sink_export_what_they_did(
    simulated_pipeline: SimulatedPipeline,
) -> None:
    # the session's run (tests/simulated_pipeline.py): a worker and a sink serving metrics,
    # each scraped once it reported no lag, a stray file in the lake before the sink started
    run = simulated_pipeline
    settings, truth, stream, landed = run.settings, run.truth, run.stream_metrics, run.sink_metrics
    names = topic_names(settings)

    def stream_value(name: str, **labels: str) -> float:
        return stream.get((name, tuple(sorted(labels.items()))), 0.0)

    # Ingest: every message in once (and the re-keyed ones again), every distinct valid event
    # out once, every malformed message a dead letter under its reason.
    valid = {orjson.loads(m)["event_id"] for m in truth.messages if m not in truth.malformed}
    rekeyed = stream_value("omnicx_stream_records_out_total", stage="ingest", output="rekeyed")
    assert (
        stream_value("omnicx_stream_messages_in_total", stage="ingest")
        == len(truth.messages) + rekeyed
    )
    assert stream_value("omnicx_stream_records_out_total", stage="ingest", output="events") == len(
        valid
    )
    duplicates = stream_value("omnicx_stream_duplicates_dropped_total")
    assert duplicates == truth.ground_truth["faults"]["duplicates"]
    expected_reasons: Counter[str] = Counter()
    for kind, count in truth.ground_truth["faults"]["malformed_by_kind"].items():
        expected_reasons[REASON_OF_KIND[kind]] += count
    reasons = {
        r: stream_value("omnicx_stream_dead_letters_total", reason=r)
        for r in ("tombstone", "too_large", "not_json", "too_deep", "unknown_type", "schema")
    }
    assert reasons == {r: expected_reasons.get(r, 0) for r in reasons}
    assert sum(expected_reasons.values()) > 0  # the day has malformed messages to count

    # Every record a stage produced is on its topic, and the customer stage read every message
    # of the identity topic.
    on_topic = {
        ("ingest", "contacts"): names.contacts,
        ("ingest", "dead_letters"): names.dead_letters,
        ("customers", "journeys"): names.journeys,
        ("customers", "customers"): names.customers,
        ("customers", "identity_merges"): names.identity_merges,
        ("customers", "alerts"): names.alerts,
        ("ingest", "business_keys"): names.business_keys,
    }
    for (stage, output), topic in on_topic.items():
        exported = stream_value("omnicx_stream_records_out_total", stage=stage, output=output)
        assert exported == len(read_topic(settings, topic)), (stage, output)
    identity_messages = len(read_topic(settings, names.identity))
    assert stream_value("omnicx_stream_messages_in_total", stage="customers") == identity_messages
    assert stream_value("omnicx_stream_batch_seconds_count", stage="ingest") > 0
    assert len(read_topic(settings, names.business_keys)) > 0  # the day sends CRM keys
    for table in ("contact", "dedup", "identity", "journey"):
        assert stream_value("omnicx_stream_state_keys", table=table) > 0, table

    # The sink: rows landed per table are the rows the lake holds, one per record.
    with duckdb.connect() as con:
        for table in LAKE_TABLES:
            con.execute(lake_view_sql(table, settings.lake_dir))
            (in_lake,) = con.execute(f"select count(*) from lake_{table.name}").fetchone()
            exported = landed.get(("omnicx_sink_rows_landed_total", (("table", table.name),)), 0.0)
            assert exported == in_lake, table.name
    assert landed[("omnicx_sink_rows_landed_total", (("table", EVENTS.name),))] == len(valid)
    assert landed[("omnicx_sink_commit_failures_total", ())] == 0
    assert landed[("omnicx_sink_quarantined_files_total", ())] == 1
    assert not run.stray_file.exists()
