"""A stream worker through broker outages (issue 10, defect 7), on a broker of the test's own
that it stops and starts again under the worker.

The worker starts before the broker, waits, processes a simulated day, loses the broker half-way,
waits again, resumes, and must still equal the simulator's ground truth; then SIGTERM while the
broker is away stops it. Its log stays short all along.
"""

from __future__ import annotations

import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from orchestration.kafka.broker import LocalBroker
from orchestration.kafka.topics import provision_topics
from schemas.settings import with_overrides
from tests.conftest import broker_settings
from tests.harness import OmnicxProcess, wait_for_stream
from tests.streams.test_stream_pipeline import (
    Simulated,
    _wait_until_consumed,
    assert_equals_truth,
)

pytestmark = pytest.mark.kafka

WAITING = "no Kafka broker answers at"  # one line per attempt, attempts back off
LOST = "no Kafka broker answered for"  # the supervisor stopped the worker
# Only reached when something is stuck: fails the test instead of hanging it.
STUCK_SECONDS = 300
# Far more than the worker writes: without the fix it wrote 32 MB in 40 s.
MAX_LOG_LINES = 300


def _wait_for_log(worker: OmnicxProcess, text: str, count: int) -> None:
    deadline = time.monotonic() + STUCK_SECONDS
    while time.monotonic() < deadline:
        if worker.log_path.read_text(errors="replace").count(text) >= count:
            return
        if worker.process.poll() is not None:
            raise AssertionError(f"the worker exited:\n{worker.log_tail()}")
        time.sleep(0.1)
    raise AssertionError(f"no {count} x {text!r} in the worker's log:\n{worker.log_tail()}")


def _log_count(worker: OmnicxProcess, text: str) -> int:
    return worker.log_path.read_text(errors="replace").count(text)


def test_worker_waits_for_the_broker_resumes_exactly_and_stops_on_sigterm_without_it(
    tmp_path: Path,
) -> None:
    run = uuid.uuid4().hex[:8]
    settings = with_overrides(
        broker_settings(tmp_path),
        topics={"prefix": f"t{run}."},
        stream={
            "app_id": f"omnicx-stream-{run}",
            "commit_interval_seconds": 0.5,  # as tests.harness.isolated_settings
            # short waits: each is waited out once or twice (the kills are as safe as a stop)
            "broker_retry_max_seconds": 1.0,
            "broker_lost_seconds": 2.0,
            "stop_grace_seconds": 1.0,
            # the worker stopped while the broker was away never left its group: its successor
            # waits for that session to expire
            "session_timeout_seconds": 8.0,
        },
    )
    broker = LocalBroker(settings)
    worker = OmnicxProcess(settings, "stream", "--worker", "w1", log_name="stream-outage")
    try:
        # No broker yet: the worker waits, retrying.
        _wait_for_log(worker, WAITING, 2)
        broker.start()
        provision_topics(settings)
        truth = Simulated(settings)

        # The broker goes away under the running worker, half-way through the day.
        _wait_until_consumed(settings, worker, len(truth.messages), 0.5)
        broker.stop()
        waiting_before = _log_count(worker, WAITING)
        _wait_for_log(worker, LOST, 1)
        _wait_for_log(worker, WAITING, waiting_before + 2)
        broker.start()
        wait_for_stream(settings, [worker], timeout=STUCK_SECONDS)
        assert_equals_truth(settings, truth)

        # SIGTERM while the broker is away stops it, though the Faust worker under it cannot
        # commit or leave its group.
        broker.stop()
        worker.process.send_signal(signal.SIGTERM)
        try:
            status = worker.process.wait(STUCK_SECONDS)
        except subprocess.TimeoutExpired:
            raise AssertionError("the worker did not stop on SIGTERM") from None
        assert status == 0
    finally:
        worker.stop()
        broker.stop()
    lines = worker.log_path.read_text(errors="replace").splitlines()
    assert len(lines) < MAX_LOG_LINES, worker.log_tail(60)
