"""Keep one stream worker running through broker outages, and stop it promptly on SIGTERM.

A Faust worker started without a broker gives up after about 40 s, and one whose broker goes
away retries in a tight loop and does not stop on SIGTERM until it can reach it again (issue 10).
So ``omnicx stream`` is a small supervisor around the worker process (``streams.worker``):

- it starts the worker only once the broker answers, retrying with a capped exponential backoff
  and one log line per attempt;
- while the worker runs it asks the broker every ``PROBE_SECONDS``; when the broker has not
  answered for ``stream.broker_lost_seconds``, or the worker exited, it stops the worker and
  waits for the broker again, then starts a new one. A restart is safe at any point: a batch's
  outputs are acknowledged before its state and its offsets (docs/streams.md, Hard kills), so
  the new worker replays from the last commit and the state absorbs the replay;
- on SIGTERM or SIGINT it stops: it passes SIGTERM on to the worker and, if the worker has not
  exited after ``stream.stop_grace_seconds`` (a worker that cannot reach the broker cannot
  commit, and waits for it), kills it, which is as safe as the restart above.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from functools import partial
from types import FrameType

from tenacity import RetryCallState, Retrying, retry_if_result, wait_exponential

from pipelines.kafka_io import broker_answers
from schemas.settings import Settings
from schemas.settings_env import settings_env

log = logging.getLogger("omnicx.stream")

PROBE_SECONDS = 2.0  # between two questions to the broker, and how long each may take
_TICK_SECONDS = 0.2  # how quickly a wait notices SIGTERM
_HEALTHY_SECONDS = 60.0  # a worker that ran this long before it stopped was not crash-looping


def _die_with_parent(parent: int) -> None:
    """In the worker, before it runs: when the supervisor dies, even by SIGKILL, the kernel
    kills the worker too (Linux's parent-death signal). Otherwise a killed ``omnicx stream``
    would leave its worker running unsupervised, and a restarted one would run beside it."""
    if sys.platform == "linux":
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
        if os.getppid() != parent:  # the supervisor died before that took effect
            os._exit(1)


class Supervisor:
    def __init__(self, settings: Settings, worker_name: str, loglevel: str) -> None:
        self.settings = settings
        self.worker_name = worker_name
        self.loglevel = loglevel
        self.stopping = False
        self.worker: subprocess.Popen | None = None

    def run(self) -> int:
        """Run until SIGTERM or SIGINT; the exit status (0 once stopped by a signal)."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        # kafka-python logs every failed connection of the probe; the supervisor says it once.
        logging.getLogger("kafka").setLevel(logging.CRITICAL)
        quick_failures = 0  # in a row: a worker that keeps failing is restarted ever more slowly
        while not self.stopping:
            if not self._wait_for_broker():
                break
            started_at = time.monotonic()
            self.worker = self._start_worker()
            exited = self._watch(self.worker)
            self._stop_worker(self.worker)
            self.worker = None
            if self.stopping:
                break
            if exited is None:
                log.warning(
                    "no Kafka broker answered for %.0f s; stream worker %s stopped until it does",
                    self.settings.stream.broker_lost_seconds,
                    self.worker_name,
                )
                continue
            ran_briefly = time.monotonic() - started_at < _HEALTHY_SECONDS
            quick_failures = quick_failures + 1 if ran_briefly else 0
            pause = min(2.0**quick_failures, self.settings.stream.broker_retry_max_seconds)
            log.warning(
                "stream worker %s exited with status %s; starting it again in %.0f s",
                self.worker_name,
                exited,
                pause,
            )
            self._sleep(pause)
        return 0

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True
        if self.worker is not None and self.worker.poll() is None:
            self.worker.send_signal(signal.SIGTERM)

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, _TICK_SECONDS))

    def _wait_for_broker(self) -> bool:
        """Block until the broker answers (True) or a signal asks to stop (False)."""
        stream = self.settings.stream
        retrying = Retrying(
            retry=retry_if_result(lambda answered: not answered and not self.stopping),
            wait=wait_exponential(multiplier=1, max=stream.broker_retry_max_seconds),
            sleep=self._sleep,
            before_sleep=self._log_waiting,
        )
        answered = retrying(broker_answers, self.settings, PROBE_SECONDS)
        return answered and not self.stopping

    def _log_waiting(self, state: RetryCallState) -> None:
        waited = state.seconds_since_start or 0.0
        pause = state.upcoming_sleep
        log.warning(
            "no Kafka broker answers at %s (for %.0f s); stream worker %s waits, next try in "
            "%.0f s",
            self.settings.kafka.bootstrap,
            waited,
            self.worker_name,
            pause,
        )

    def _start_worker(self) -> subprocess.Popen:
        command = [
            sys.executable, "-m", "streams.worker", "--home", str(self.settings.home),
            self.worker_name, self.loglevel,
        ]  # fmt: skip
        env = {**os.environ, **settings_env(self.settings)}
        return subprocess.Popen(command, env=env, preexec_fn=partial(_die_with_parent, os.getpid()))

    def _watch(self, worker: subprocess.Popen) -> int | None:
        """Wait while the worker runs and the broker answers, or until a signal: the worker's
        exit status if it exited by itself, else None."""
        lost_after = self.settings.stream.broker_lost_seconds
        answered_at = time.monotonic()
        while not self.stopping:
            self._sleep(PROBE_SECONDS)
            status = worker.poll()
            if status is not None:
                return status
            if broker_answers(self.settings, PROBE_SECONDS):
                answered_at = time.monotonic()
            elif time.monotonic() - answered_at >= lost_after:
                return None
        return None

    def _stop_worker(self, worker: subprocess.Popen) -> None:
        if worker.poll() is not None:
            return
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(self.settings.stream.stop_grace_seconds)
        except subprocess.TimeoutExpired:
            log.warning(
                "stream worker %s did not stop within %.0f s; killing it (safe: it replays "
                "from its last commit)",
                self.worker_name,
                self.settings.stream.stop_grace_seconds,
            )
            worker.kill()
            worker.wait()
