"""One simulated run through the whole pipeline on the session's broker, shared by the tests
that each need "a simulated centre streamed, landed and refreshed" and only read the outcome
(``simulated_pipeline`` in tests/conftest.py): the stream against the simulator's truth
(tests/streams/test_stream_pipeline.py), the Prometheus endpoints of the worker and the sink
(tests/streams/test_stream_metrics.py) and the warehouse and KPIs against the ground truth
(tests/orchestration/test_end_to_end.py).

Two days with duplicates, disorder, late and malformed messages go into the raw topic; a stream
worker and the lake sink run as real ``omnicx`` processes at the same time, each serving its
metrics, scraped once the process reports zero lag on everything it consumes; then the Dagster
refresh runs over both days. One tenant reports in Asia/Tokyo (UTC+9, ``[tenants.NAME]
time_zone``), so that its KPIs, and the simulator's truth, fall on its local days: the two UTC
days simulated are three Tokyo days, and the refresh runs through ``LAST_LOCAL_DAY``. A file the sink did not write lies in the lake before it starts,
for the sink to quarantine.
"""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from orchestration.commands.refresh import run_refresh
from orchestration.kafka.lag import consumer_lag
from pipelines.simulator.config import SimulationConfig
from schemas.settings import Settings, load_settings, with_overrides
from schemas.topics import topic_names
from tests.harness import OmnicxProcess, isolated_settings, stream_worker, wait_for_stream
from warehouse.tables import EVENTS, LAKE_TABLES

FIRST_DAY = date(2026, 1, 5)
# Small enough for a test, large enough for every fault kind, transfers, surveys and repeats,
# and journeys across midnight.
DAYS = SimulationConfig(seed=3, days=2, agents=12, tenants=2, start=FIRST_DAY)
LAST_DAY = FIRST_DAY + timedelta(days=DAYS.days - 1)
TOKYO_TENANT = "bluewave-bank"
LAST_LOCAL_DAY = LAST_DAY + timedelta(days=1)  # Tokyo's day that starts at 15:00 UTC

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@dataclass(frozen=True)
class SimulatedPipeline:
    settings: Settings
    truth: Any  # tests.streams.test_stream_pipeline.Simulated
    stream_metrics: Samples  # scraped once the worker reported no lag
    sink_metrics: Samples  # scraped once the sink reported no lag
    stray_file: Path  # where the file the sink had to quarantine was
    refresh: Any  # the result of the refresh over FIRST_DAY..LAST_LOCAL_DAY


def run_simulated_pipeline(kafka_settings: Settings, home: Path) -> SimulatedPipeline:
    from tests.streams.test_stream_pipeline import Simulated

    # The tenant's zone in a settings file, which the Dagster run reads (as `omnicx refresh
    # --config` does); the simulator, the worker and the sink get the same settings object.
    config = home / "omnicx.toml"
    config.write_text(f'[tenants.{TOKYO_TENANT}]\ntime_zone = "Asia/Tokyo"\n')
    tenants = load_settings(environ={}, config_file=config).tenants
    settings = isolated_settings(kafka_settings, home)
    stream_port, sink_port = free_port(), free_port()
    settings = with_overrides(
        settings,
        stream={"metrics_port": stream_port},
        warehouse={
            "sink_metrics_port": sink_port,
            "sink_group_id": f"sink-{uuid.uuid4().hex[:8]}",
            "sink_batch_seconds": 0.5,
        },
        tenants=tenants,
    )
    names = topic_names(settings)
    truth = Simulated(settings, DAYS)

    stray = settings.lake_dir / EVENTS.name / f"day={FIRST_DAY}" / "not-the-sink-s.parquet"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"PAR1")
    sink = OmnicxProcess(settings, "sink", "--instance-id", "shared", log_name="sink")
    try:
        with stream_worker(settings) as worker:
            # Once the group committed everything, the counters are final (a batch counts
            # before its offsets are committed); scraped while the worker runs, until its
            # periodic refresh reports every partition's lag as 0.
            wait_for_stream(settings, [worker])
            stream = wait_for(
                lambda: caught_up(scrape(stream_port), [names.raw_events, names.identity]),
                worker,
            )
        lake_topics = [t.topic_name(settings) for t in LAKE_TABLES]
        group = settings.warehouse.sink_group_id
        wait_for(lambda: not any(consumer_lag(settings, group, lake_topics).values()), sink)
        landed = wait_for(lambda: caught_up(scrape(sink_port), lake_topics), sink)
    finally:
        sink.stop()
    refresh = run_refresh(settings, FIRST_DAY, LAST_LOCAL_DAY, config)
    return SimulatedPipeline(settings, truth, stream, landed, stray, refresh)


def scrape(port: int) -> Samples:
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


def caught_up(samples: Samples, topics: list[str]) -> Samples | None:
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


def wait_for(condition: Callable[[], Any], process: OmnicxProcess) -> Any:
    """Poll ``condition`` until it returns something other than None or False; that."""
    deadline = time.monotonic() + 300
    while (result := condition()) is None or result is False:
        if process.process.poll() is not None:
            raise AssertionError(f"the process exited:\n{process.log_tail()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in time:\n{process.log_tail()}")
        time.sleep(0.1)
    return result


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]
