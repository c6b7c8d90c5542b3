"""The stream's metrics without a broker: dead-letter reasons, lag gauges and the HTTP endpoint
(served on loopback and scraped for real)."""

import socket
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from schemas.validation import validate
from streams.dead_letters import DEAD_LETTER_REASONS, dead_letter_reason
from streams.metrics import StreamMetrics, serve_metrics

GOOD = (
    b'{"event_id": "e1", "event_type": "contact.queued", "schema_version": 1, '
    b'"occurred_at": "2026-01-05T09:00:00Z", "tenant": "acme", "channel": "voice", '
    b'"contact_id": "c1", "queue": "q"}'
)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "tombstone"),
        (b"x" * 2000, "too_large"),
        (b"HTTP/1.1 502 Bad Gateway", "not_json"),
        (b"[" * 40 + b"]" * 40, "too_deep"),
        (GOOD.replace(b"contact.queued", b"contact.teleported"), "unknown_type"),
        (GOOD.replace(b', "queue": "q"', b""), "schema"),
        (GOOD.replace(b'"tenant": "acme"', b'"tenant": 42'), "schema"),
        (GOOD.replace(b"2026-01-05T09:00:00Z", b"yesterday"), "schema"),
        (GOOD.replace(b'"event_type": "contact.queued", ', b""), "schema"),
    ],
)
def test_each_validation_failure_has_its_reason_label(raw: bytes | None, reason: str) -> None:
    checked = validate(raw, max_bytes=1000, max_depth=32)
    assert checked.problems, "the message should have been rejected"
    assert dead_letter_reason(checked.problems) == reason


def test_the_stream_s_own_reasons_are_recognised() -> None:
    far = "occurred_at: 9999-12-31T00:00:00.000Z is more than 3600 s (stream.max_future_seconds)"
    assert dead_letter_reason([far]) == "far_future"
    big = "$: the canonical event is 950000 bytes, over the 921600 a Kafka message may hold"
    assert dead_letter_reason([big]) == "too_large"
    assert dead_letter_reason(["occurred_at: year 10000 is out of range"]) == "schema"


def test_every_reason_is_exported_at_zero_before_its_first_dead_letter() -> None:
    metrics = StreamMetrics()
    metrics.ingested(duplicates=3, dead_letter_reasons={"not_json": 2})
    value = metrics.registry.get_sample_value
    counts = {
        r: value("omnicx_stream_dead_letters_total", {"reason": r}) for r in DEAD_LETTER_REASONS
    }
    assert counts == {**dict.fromkeys(DEAD_LETTER_REASONS, 0), "not_json": 2}
    assert value("omnicx_stream_duplicates_dropped_total") == 3


def test_the_lag_gauge_forgets_partitions_no_longer_assigned() -> None:
    metrics = StreamMetrics()
    metrics.lag.set({("raw", 0): 5, ("raw", 1): 7})
    metrics.lag.set({("raw", 1): 0, ("raw", 2): 4})
    value = metrics.registry.get_sample_value
    lags = {p: value("omnicx_stream_consumer_lag", {"topic": "raw", "partition": p}) for p in "012"}
    assert lags == {"0": None, "1": 0, "2": 4}


def test_the_endpoint_serves_the_registry_over_http() -> None:
    metrics = StreamMetrics()
    metrics.batch("ingest", 10, {"events": 8, "dead_letters": 0}, 0.02)
    port = _free_port()
    serve_metrics(metrics.registry, "127.0.0.1", port, "stream.metrics_port")

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("omnicx_stream_messages_in_total", (("stage", "ingest"),))] == 10
    out = ("omnicx_stream_records_out_total", (("output", "events"), ("stage", "ingest")))
    assert samples[out] == 8
    # A zero count adds no series: the outputs a stage never produced stay absent.
    dead = ("omnicx_stream_records_out_total", (("output", "dead_letters"), ("stage", "ingest")))
    assert dead not in samples
    assert samples[("omnicx_stream_batch_seconds_count", (("stage", "ingest"),))] == 1


def test_a_taken_port_stops_the_process_naming_the_setting() -> None:
    with socket.create_server(("127.0.0.1", 0)) as squatter:
        port = squatter.getsockname()[1]
        with pytest.raises(SystemExit, match=r"stream\.metrics_port"):
            serve_metrics(StreamMetrics().registry, "127.0.0.1", port, "stream.metrics_port")


def _free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]
