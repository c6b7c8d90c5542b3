"""Helpers for integration tests that run omnicx processes against the session's real broker.

Each test gets its own topic prefix, consumer group and state directory, so tests sharing the
broker never see each other's data. Processes are started as ``python -m orchestration`` with
the test's state directory on their command line, so that ``./dev test`` can stop any a killed
test run left behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from kafka import TopicPartition

from orchestration.kafka.lag import stage_consumers, wait_until_caught_up
from orchestration.kafka.topics import provision_topics
from pipelines.kafka_io import consumer
from schemas.settings import Settings, with_overrides
from schemas.settings_env import settings_env

REPO = Path(__file__).resolve().parents[1]


def isolated_settings(kafka_settings: Settings, home: Path) -> Settings:
    """Settings of one test: fresh topics (provisioned), consumer group and state directory."""
    run = uuid.uuid4().hex[:8]
    settings = with_overrides(
        kafka_settings,
        topics={"prefix": f"t{run}."},
        # Frequent commits: a test waits for the stream's lag to be zero, which it is only once
        # the offsets of the last batch are committed.
        stream={"app_id": f"omnicx-stream-{run}", "commit_interval_seconds": 0.5},
    )
    settings = with_overrides(settings, home=home)
    provision_topics(settings)
    return settings


def omnicx_command(settings: Settings, *args: str) -> list[str]:
    """The command line of an ``omnicx`` subcommand with the test's state directory on it."""
    return [sys.executable, "-m", "orchestration", "--home", str(settings.home), *args]


def run_omnicx(settings: Settings, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """One ``omnicx`` command run to its end with the test's settings, its output captured."""
    return subprocess.run(
        omnicx_command(settings, *args),
        cwd=REPO,
        env={**os.environ, **settings_env(settings)},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class OmnicxProcess:
    """One ``omnicx`` subcommand running in the background with a test's settings."""

    def __init__(self, settings: Settings, *args: str, log_name: str) -> None:
        self.log_path = settings.home / f"{log_name}.log"
        self.log_dir = settings.log_dir
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        command = omnicx_command(settings, *args)
        env = {**os.environ, **settings_env(settings)}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    def stop(self, timeout_seconds: float = 60) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_seconds)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill9(self) -> None:
        self.process.kill()
        self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        """The end of what the process printed, then of every omnicx log file of the test's
        home (a worker's records go to its file, not to its terminal)."""
        paths = [self.log_path, *sorted(self.log_dir.glob("*.log"))]
        return "\n".join(
            f"== {path.name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
            for path in paths
            if path.exists()
        )


@contextmanager
def stream_worker(settings: Settings, name: str = "worker-1") -> Iterator[OmnicxProcess]:
    worker = OmnicxProcess(settings, "stream", "--worker", name, log_name=f"stream-{name}")
    try:
        yield worker
    finally:
        worker.stop()


def wait_for_stream(settings: Settings, workers: list[OmnicxProcess], timeout: float = 300) -> None:
    """Block until the stream group consumed everything, or fail with the workers' logs."""
    group, topics = stage_consumers(settings, "stream")
    lag = wait_until_caught_up(settings, group, topics, timeout)
    dead = [w for w in workers if w.process.poll() is not None]
    if any(lag.values()) or dead:
        logs = "\n---\n".join(w.log_tail() for w in workers)
        raise AssertionError(f"stream did not catch up (lag {lag}, exited {len(dead)}):\n{logs}")


def read_topic(settings: Settings, topic: str) -> list[Any]:
    """Every message of a topic, values decoded from JSON, in partition then offset order."""
    reader = consumer(settings)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(reader.partitions_for_topic(topic))]
        ends = reader.end_offsets(partitions)
        reader.assign(partitions)
        reader.seek_to_beginning()
        messages: list[Any] = []
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining:
            for tp, records in reader.poll(timeout_ms=1000).items():
                for record in records:
                    if record.offset < ends[tp]:
                        messages.append((tp.partition, record.offset, record))
                if reader.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        reader.close()
    messages.sort(key=lambda m: (m[0], m[1]))
    return [m[2] for m in messages]


def latest_versions(settings: Settings, topic: str, key_field: str) -> dict[str, dict]:
    """The highest ``version`` of each record of a versioned topic."""
    latest: dict[str, dict] = {}
    for message in read_topic(settings, topic):
        record = orjson.loads(message.value)
        key = record[key_field]
        if key not in latest or record["version"] > latest[key]["version"]:
            latest[key] = record
    return latest


def stream_and_land(settings: Settings, sink_instance_id: str) -> None:
    """Run a stream worker and the lake sink side by side, as a deployment runs them, until the
    stream caught up and then the sink landed every lake topic. (The sink's lag is read only
    once the stream committed everything, so it cannot be zero for want of the stream's
    output; the sink starts and lands while the stream works.)"""
    from warehouse.tables import LAKE_TABLES

    sink = OmnicxProcess(settings, "sink", "--instance-id", sink_instance_id, log_name="sink")
    try:
        with stream_worker(settings) as worker:
            wait_for_stream(settings, [worker])
        topics = [table.topic_name(settings) for table in LAKE_TABLES]
        lag = wait_until_caught_up(settings, settings.warehouse.sink_group_id, topics, 300)
        assert not any(lag.values()), f"sink did not catch up: {lag}\n{sink.log_tail()}"
    finally:
        sink.stop()
