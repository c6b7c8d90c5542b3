"""A rebalance while the batch agent holds a batch (``streams.batches``): a second worker joins
the group while the first one's handler is inside a batch, held there by a handshake with the
test until the first worker's revocation has begun; once released, every message must have been
handled exactly once, by one worker or the other, and both must have taken part.

This is what the batch consumer promises by Faust's own rules (docs/streams.md, Below Faust's
per-message delivery): the held batch's messages are tracked, so the revocation waits for them
and commits them before the second worker may read their partitions.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from orchestration.kafka.lag import wait_until_caught_up
from pipelines.kafka_io import producer
from schemas.settings import Settings
from schemas.settings_env import settings_env
from schemas.topics import topic_names
from tests.harness import REPO, isolated_settings

pytestmark = pytest.mark.kafka

MESSAGES = 400
# Only reached when something is stuck: fails the test instead of hanging it.
STUCK_SECONDS = 120


class Worker:
    def __init__(self, settings: Settings, out: Path, hold_port: int | None = None) -> None:
        self.out = out
        self.log = out.with_suffix(".log")
        command = [
            sys.executable, "-m", "tests.streams.rebalance_worker", "--home", str(settings.home),
            str(out), *([str(hold_port)] if hold_port else []),
        ]  # fmt: skip
        env = {**os.environ, **settings_env(settings)}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    def handled(self) -> list[tuple[int, int]]:
        if not self.out.exists():
            return []
        return [tuple(map(int, line.split())) for line in self.out.read_text().splitlines()]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _poll(condition, what: str, workers: list[Worker]) -> None:
    deadline = time.monotonic() + STUCK_SECONDS
    while time.monotonic() < deadline:
        if condition():
            return
        dead = [w for w in workers if w.process.poll() is not None]
        if dead:
            raise AssertionError(f"a worker exited:\n{dead[0].log.read_text()[-3000:]}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_batch_held_across_a_rebalance_is_handled_once(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    settings = isolated_settings(kafka_settings, tmp_path)
    raw = topic_names(settings).raw_events
    client = producer(settings)
    for n in range(MESSAGES):
        client.send(raw, key=f"k{n}".encode(), value=b"{}")
    client.flush()
    client.close()

    workers: list[Worker] = []
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(STUCK_SECONDS)
        port = server.getsockname()[1]
        try:
            first = Worker(settings, tmp_path / "first.txt", hold_port=port)
            workers.append(first)
            held, _ = server.accept()
            with held, held.makefile("rb") as said:
                held.settimeout(STUCK_SECONDS)
                assert said.readline() == b"holding\n"
                second = Worker(settings, tmp_path / "second.txt")
                workers.append(second)
                # The second worker joined: the first one's revocation began, and waits for the
                # held batch before it commits and lets the partitions go.
                assert said.readline() == b"revoked\n"
                assert first.handled() == second.handled() == []
                held.sendall(b"go\n")
            _poll(
                lambda: len(first.handled()) + len(second.handled()) >= MESSAGES,
                "every message to be handled",
                workers,
            )
            lag = wait_until_caught_up(settings, settings.stream.app_id, [raw], STUCK_SECONDS)
        finally:
            for worker in workers:
                worker.stop()

    counts = Counter(first.handled() + second.handled())
    assert [key for key, seen in counts.items() if seen > 1] == []  # nothing twice
    partitions = settings.topics.partitions
    assert sum(counts.values()) == MESSAGES and lag == {raw: 0}  # nothing lost
    assert len({p for p, _ in counts}) == partitions
    assert first.handled() and second.handled()  # both took part
