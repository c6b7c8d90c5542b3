"""The Prometheus endpoints of a real stream worker and a real lake sink (docs/streams.md and
docs/warehouse.md, Metrics): both run as ``omnicx`` processes on a simulated day, and what they
export, scraped over HTTP, must equal what the simulator injected and what Kafka and the lake
hold."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from orchestration.kafka.lag import consumer_lag
from schemas.settings import Settings, with_overrides
from schemas.topics import topic_names
from tests.harness import (
    OmnicxProcess,
    isolated_settings,
    read_topic,
    stream_worker,
    wait_for_stream,
)
from tests.streams.test_stream_pipeline import Simulated
from warehouse.build import lake_view_sql
from warehouse.tables import EVENTS, LAKE_TABLES

pytestmark = pytest.mark.kafka

# The simulator's kinds of malformed message, as the stream's dead-letter reasons.
REASON_OF_KIND = {
    "not_json": "not_json",
    "missing_field": "schema",
    "wrong_type": "schema",
    "unknown_event_type": "unknown_type",
    "bad_time": "schema",
}

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def test_the_worker_and_the_sink_export_what_they_did(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    settings = isolated_settings(kafka_settings, tmp_path)
    stream_port, sink_port = _free_port(), _free_port()
    settings = with_overrides(
        settings,
        stream={"metrics_port": stream_port},
        warehouse={
            "sink_metrics_port": sink_port,
            "sink_group_id": f"sink-{uuid.uuid4().hex[:8]}",
            "sink_batch_seconds": 0.3,
        },
    )
    names = topic_names(settings)
    truth = Simulated(settings)

    # A file the sink did not write, which it must quarantine (and count) before landing.
    stray = settings.lake_dir / EVENTS.name / "day=2026-01-05" / "not-the-sink-s.parquet"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"PAR1")
    sink = OmnicxProcess(settings, "sink", "--instance-id", "metrics", log_name="sink")
    try:
        with stream_worker(settings) as worker:
            # Once the group committed everything, the counters are final (a batch counts
            # before its offsets are committed); scraped while the worker runs, until its
            # periodic refresh reports every partition's lag as 0.
            wait_for_stream(settings, [worker])
            stream = _wait_for(
                lambda: _caught_up(_scrape(stream_port), [names.raw_events, names.identity]),
                worker,
            )
        lake_topics = [t.topic_name(settings) for t in LAKE_TABLES]
        group = settings.warehouse.sink_group_id
        _wait_for(lambda: not any(consumer_lag(settings, group, lake_topics).values()), sink)
        landed = _wait_for(lambda: _caught_up(_scrape(sink_port), lake_topics), sink)
    finally:
        sink.stop()

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
    assert not stray.exists()


def _scrape(port: int) -> Samples:
    """Every sample the endpoint serves, by name and sorted labels; {} while it does not answer."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    except (urllib.error.URLError, ConnectionError):
        return {}
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _caught_up(samples: Samples, topics: list[str]) -> Samples | None:
    """The samples once the process reports a lag, all 0, for every partition of ``topics`` it
    consumes (a single process consumes them all); None until then."""
    lags = {
        (dict(labels)["topic"], dict(labels)["partition"]): value
        for (name, labels), value in samples.items()
        if name.endswith("_consumer_lag")
    }
    if {topic for topic, _ in lags} != set(topics) or any(lags.values()):
        return None
    return samples


def _wait_for(condition: Callable[[], Any], process: OmnicxProcess) -> Any:
    """Poll ``condition`` until it returns something other than None or False; that."""
    deadline = time.monotonic() + 300
    while (result := condition()) is None or result is False:
        if process.process.poll() is not None:
            raise AssertionError(f"the process exited:\n{process.log_tail()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in time:\n{process.log_tail()}")
        time.sleep(0.1)
    return result


def _free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]
