"""The stream processor on the real broker, against the simulator's ground truth.

A simulated day with duplicates, disorder, late and malformed messages goes into the raw topic;
``omnicx stream`` workers run as real processes; every contact's final version and every live
journey must equal the simulator's own facts, and the dead letters must be exactly the injected
malformed messages, byte for byte. One worker alone is the session's ``simulated_pipeline``
(tests/simulated_pipeline.py, two days), which other test files read too.
"""

from __future__ import annotations

import base64
import time
from collections import Counter
from pathlib import Path

import orjson
from kafka import TopicPartition

from orchestration.kafka.lag import consumer_lag
from pipelines.kafka_io import consumer
from pipelines.producer import produce
from pipelines.simulator.config import SimulationConfig
from pipelines.simulator.run import Simulation
from schemas.settings import Settings, with_overrides
from schemas.topics import topic_names
from tests.harness import (
    OmnicxProcess,
    isolated_settings,
    latest_versions,
    read_topic,
    stream_worker,
    wait_for_stream,
)
from tests.simulated_pipeline import SimulatedPipeline

# Small enough for a test, large enough for every fault kind, transfers, surveys and repeats.
DAY = SimulationConfig(seed=11, days=1, agents=15, tenants=2)


class Simulated:
    """One simulation sent to Kafka, with its truth."""

    def __init__(self, settings: Settings, config: SimulationConfig = DAY) -> None:
        simulation = Simulation(config, settings)
        self.messages = list(simulation.messages())
        self.contacts = {c.contact_id: c.to_dict() for c in simulation.contact_facts()}
        self.journeys = {j.journey_id: j.to_dict() for j in simulation.journey_facts()}
        self.ground_truth = simulation.ground_truth()
        faults = self.ground_truth["faults"]
        self.malformed = Counter(self.messages[m["index"]] for m in faults["malformed_messages"])
        produce(self.messages, settings)


def assert_equals_truth(settings: Settings, truth: Simulated) -> None:
    names = topic_names(settings)
    contacts = latest_versions(settings, names.contacts, "contact_id")
    for record in contacts.values():
        del record["version"]
    assert set(contacts) == set(truth.contacts)
    wrong = [cid for cid, facts in truth.contacts.items() if contacts[cid] != facts]
    assert wrong == [], _first_difference(contacts, truth.contacts, wrong)

    journeys = {
        jid: record
        for jid, record in latest_versions(settings, names.journeys, "journey_id").items()
        if not record.pop("superseded")
    }
    for record in journeys.values():
        del record["version"]
    assert set(journeys) == set(truth.journeys)
    wrong = [jid for jid, facts in truth.journeys.items() if journeys[jid] != facts]
    assert wrong == [], _first_difference(journeys, truth.journeys, wrong)

    # A dead letter is identified by its id (its source coordinates): a replay after a crash may
    # publish one twice. The bytes are on the operators' topic; the analysts' has one record per
    # dead letter too.
    stored = {
        d["dead_letter_id"]: d
        for d in (orjson.loads(m.value) for m in read_topic(settings, names.dead_letters_raw))
    }
    dead = Counter(base64.b64decode(d["raw_base64"]) for d in stored.values())
    assert dead == truth.malformed
    analyst = {
        orjson.loads(m.value)["dead_letter_id"] for m in read_topic(settings, names.dead_letters)
    }
    assert analyst == set(stored)


def _first_difference(got: dict, want: dict, keys: list[str]) -> str:
    key = keys[0]
    fields = sorted(f for f in want[key] if got[key].get(f) != want[key][f])
    return f"{len(keys)} differ; {key}: " + ", ".join(
        f"{f}: got {got[key].get(f)!r}, want {want[key][f]!r}" for f in fields
    )


def test_one_worker_reproduces_the_ground_truth(simulated_pipeline: SimulatedPipeline) -> None:
    # the session's run (tests/simulated_pipeline.py): two days, one worker until it caught up
    settings, truth = simulated_pipeline.settings, simulated_pipeline.truth

    assert_equals_truth(settings, truth)
    published = [
        orjson.loads(m.value)["event_id"]
        for m in read_topic(settings, topic_names(settings).events)
    ]
    valid = {orjson.loads(m)["event_id"] for m in truth.messages if m not in truth.malformed}
    assert sorted(published) == sorted(valid)  # every valid event once: duplicates dropped


def test_two_workers_in_one_group_give_the_same_results(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    # A worker that a rebalance left with paused partitions exits and is restarted once they
    # stalled this long (docs/streams.md, Liveness), well within the wait below.
    settings = with_overrides(
        isolated_settings(kafka_settings, tmp_path), stream={"stall_seconds": 30.0}
    )
    truth = Simulated(settings)

    with stream_worker(settings, "w1") as first, stream_worker(settings, "w2") as second:
        wait_for_stream(settings, [first, second])

    assert_equals_truth(settings, truth)


def test_kill_9_mid_stream_twice_then_restart_still_equals_the_truth(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    """The worker is killed with SIGKILL once 30% of the day's events are out, restarted,
    killed again at 70%, then restarted to the end: nothing lost, nothing counted twice."""
    # The killed worker holds its partitions until its session expires: a short one, so that
    # the restarts do not wait out the default minute.
    settings = with_overrides(
        isolated_settings(kafka_settings, tmp_path), stream={"session_timeout_seconds": 8.0}
    )
    truth = Simulated(settings)
    raw = topic_names(settings).raw_events
    total = len(truth.messages)

    for kill_after_share in (0.3, 0.7):
        worker = OmnicxProcess(settings, "stream", "--worker", "w1", log_name="stream-killed")
        try:
            _wait_until_consumed(settings, worker, total, kill_after_share)
        finally:
            worker.kill9()
        _wait_until_no_worker_runs(settings.home)  # killing the supervisor kills its worker
        consumed = total - consumer_lag(settings, settings.stream.app_id, [raw])[raw]
        assert consumed < total, (
            f"the worker finished before it could be killed at {kill_after_share}"
        )

    with stream_worker(settings, "w1") as restarted:
        wait_for_stream(settings, [restarted])

    assert_equals_truth(settings, truth)


def _wait_until_no_worker_runs(home: Path) -> None:
    """Poll until no stream worker process (``streams.worker``) of this test's home is left."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not _worker_processes(home):
            return
        time.sleep(0.05)
    raise AssertionError(f"stream worker(s) {_worker_processes(home)} outlived their supervisor")


def _worker_processes(home: Path) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes() if proc.name.isdigit() else b""
        except OSError:  # it exited meanwhile
            continue
        if b"streams.worker" in cmdline and str(home).encode() in cmdline:
            pids.append(int(proc.name))
    return pids


def _wait_until_consumed(
    settings: Settings, worker: OmnicxProcess, total: int, share: float
) -> None:
    """Poll until the worker has published ``share`` of the messages as valid events (real
    progress: its outputs are flushed before its offsets are committed)."""
    events = topic_names(settings).events
    reader = consumer(settings)
    try:
        partitions = [TopicPartition(events, p) for p in reader.partitions_for_topic(events)]
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if sum(reader.end_offsets(partitions).values()) >= share * total:
                return
            if worker.process.poll() is not None:
                raise AssertionError("the worker died:\n" + worker.log_tail())
            time.sleep(0.02)
    finally:
        reader.close()
    raise AssertionError("the worker made no progress:\n" + worker.log_tail())
