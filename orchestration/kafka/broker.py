"""Start, stop and inspect the local single-node Kafka broker (KRaft, combined broker+controller).

The broker runs from the jars that ``jars.ensure_jars`` caches, with its configuration, data,
logs and pid file under ``settings.kafka_dir``. ``start`` returns once the broker answers a
metadata request; ``stop`` stops only the process its pid file names, and only if that process
is still the broker this directory started. Both are idempotent.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from orchestration.kafka.jars import BrokerSetupError, ensure_jars
from pipelines.kafka_io import broker_answers
from schemas.settings import Settings

MIN_JAVA = 17
_POLL_SECONDS = 0.25


MAX_COMPACTION_LAG_MS = 7 * 24 * 3600 * 1000


class BrokerStartError(RuntimeError):
    """The broker could not be started; the message says why in one line (plus its log tail)."""


@dataclass(frozen=True)
class BrokerStatus:
    running: bool
    pid: int | None
    answering: bool

    def describe(self, bootstrap: str) -> str:
        if not self.running:
            return "Kafka broker is not running"
        health = "answering" if self.answering else "NOT answering"
        return f"Kafka broker running (pid {self.pid}) at {bootstrap}, {health}"


def new_cluster_id() -> str:
    """A random cluster id as ``kafka-storage random-uuid`` makes them: 16 random bytes in
    URL-safe base64 without padding, never starting with "-" (Kafka's Uuid.randomUuid rule)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


class LocalBroker:
    def __init__(self, settings: Settings, cluster_id: str | None = None) -> None:
        """``cluster_id`` formats a fresh data directory (default: a new random one)."""
        self.settings = settings
        self.cluster_id = cluster_id
        self.dir = settings.kafka_dir.resolve()
        self.data_dir = self.dir / "data"
        self.config_file = self.dir / "server.properties"
        self.log_config_file = self.dir / "log4j2.properties"
        self.log_file = self.dir / "logs" / "server.log"
        self.console_file = self.dir / "logs" / "console.log"
        self.pid_file = self.dir / "broker.pid"

    # -- public -----------------------------------------------------------------------------

    def start(self) -> str:
        kafka = self.settings.kafka
        pid = self._running_pid()
        if pid is not None:
            self._wait_until_answering(pid, process=None)
            return f"Kafka broker already running (pid {pid}) at {kafka.bootstrap}"
        java = _java_binary()
        jars = ensure_jars(self.settings.kafka.jars_dir.resolve())
        for port in (kafka.port, kafka.controller):
            if not _port_is_free(kafka.host, port):
                raise BrokerStartError(f"port {port} on {kafka.host} is taken by another process")
        self._write_configs()
        classpath = f"{jars}/*"
        if not (self.data_dir / "meta.properties").exists():
            self._format_storage(java, classpath)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.console_file.open("ab") as console:
            process = subprocess.Popen(
                [
                    java,
                    *self._jvm_options(),
                    "-cp",
                    classpath,
                    "kafka.Kafka",
                    str(self.config_file),
                ],
                stdout=console,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in the caller's terminal must not kill it
            )
        self.pid_file.write_text(str(process.pid))
        try:
            self._wait_until_answering(process.pid, process)
        except BrokerStartError:
            self._terminate(process.pid)
            self.pid_file.unlink(missing_ok=True)
            raise
        return f"Kafka broker started (pid {process.pid}) at {kafka.bootstrap}"

    def stop(self) -> str:
        pid = self._running_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return "Kafka broker is not running"
        self._terminate(pid)
        self.pid_file.unlink(missing_ok=True)
        return f"Kafka broker stopped (pid {pid})"

    def status(self) -> BrokerStatus:
        pid = self._running_pid()
        return BrokerStatus(
            running=pid is not None, pid=pid, answering=pid is not None and self._answers()
        )

    # -- helpers ----------------------------------------------------------------------------

    def _running_pid(self) -> int | None:
        """The pid from the pid file if that process is alive and is our broker."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if not _alive(pid):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return None
        if b"kafka.Kafka" in cmdline and str(self.config_file).encode() in cmdline:
            return pid
        return None  # the pid was reused by another process: never signal it

    def _answers(self, timeout_seconds: float | None = None) -> bool:
        seconds = timeout_seconds or self.settings.kafka.request_timeout_seconds
        return broker_answers(self.settings, seconds)

    def _wait_until_answering(self, pid: int, process: subprocess.Popen | None) -> None:
        deadline = time.monotonic() + self.settings.kafka.start_timeout_seconds
        while time.monotonic() < deadline:
            exited = process.poll() is not None if process is not None else not _alive(pid)
            if exited:
                raise BrokerStartError("Kafka broker died during start-up; " + self._log_tail())
            if _port_is_open(self.settings.kafka.host, self.settings.kafka.port) and self._answers(
                2
            ):
                return
            time.sleep(_POLL_SECONDS)
        raise BrokerStartError(
            f"Kafka broker did not answer within {self.settings.kafka.start_timeout_seconds:.0f}s; "
            + self._log_tail()
        )

    def _terminate(self, pid: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)  # the broker shuts down cleanly on TERM
        deadline = time.monotonic() + self.settings.kafka.stop_timeout_seconds
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(_POLL_SECONDS)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(_POLL_SECONDS)

    def _format_storage(self, java: str, classpath: str) -> None:
        cluster_id = self.cluster_id or new_cluster_id()
        # The id is attached with "=": a separate argument starting with "-" would be read as an
        # option by kafka-storage's parser (and base64 ids may start with "-").
        command = [
            java, "-cp", classpath, f"-Dlog4j2.configurationFile=file:{self.log_config_file}",
            "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}",
            "--config", str(self.config_file),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            last = (done.stdout + done.stderr).strip().splitlines()[-3:]
            raise BrokerStartError("formatting Kafka storage failed: " + " | ".join(last))

    def _jvm_options(self) -> list[str]:
        heap = self.settings.kafka.heap
        return [
            f"-Xmx{heap}",
            "-Xms128m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile=file:{self.log_config_file}",
        ]

    def _write_configs(self) -> None:
        kafka = self.settings.kafka
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        properties = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{kafka.host}:{kafka.controller}",
            "listeners": f"PLAINTEXT://{kafka.host}:{kafka.port},CONTROLLER://{kafka.host}:{kafka.controller}",
            "advertised.listeners": f"PLAINTEXT://{kafka.host}:{kafka.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            # Topics are created by `omnicx kafka topics` and Faust; a typo must not make one.
            "auto.create.topics.enable": "false",
            "num.partitions": str(self.settings.topics.partitions),
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "8",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "4",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "num.network.threads": "2",
            "num.io.threads": "4",
            # An erased customer's superseded records on the compacted topics and changelogs are
            # gone from disk within a week, not whenever a segment happens to roll
            # (docs/tenancy.md, Erasure and offboarding).
            "log.cleaner.max.compaction.lag.ms": str(MAX_COMPACTION_LAG_MS),
        }
        self.config_file.write_text("".join(f"{k}={v}\n" for k, v in properties.items()))
        self.log_config_file.write_text(
            "status = warn\n"
            "appender.file.type = File\n"
            "appender.file.name = FILE\n"
            f"appender.file.fileName = {self.log_file}\n"
            "appender.file.layout.type = PatternLayout\n"
            "appender.file.layout.pattern = [%d] %p %m (%c)%n\n"
            "rootLogger.level = INFO\n"
            "rootLogger.appenderRef.file.ref = FILE\n"
        )

    def _log_tail(self, lines: int = 8) -> str:
        tail: list[str] = []
        for path in (self.console_file, self.log_file):
            with contextlib.suppress(OSError):
                tail += path.read_text(errors="replace").splitlines()[-lines:]
        if not tail:
            return "the broker wrote no log"
        return "last log lines:\n  " + "\n  ".join(tail[-lines:])


def _java_binary() -> str:
    java = shutil.which("java")
    if java is None:
        raise BrokerSetupError(f"Java {MIN_JAVA}+ is not on PATH; the Kafka broker needs it")
    done = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)', done.stderr + done.stdout)
    if match is None or int(match.group(1)) < MIN_JAVA:
        found = match.group(1) if match else "unknown"
        raise BrokerSetupError(f"Java {MIN_JAVA}+ is needed for Kafka 4, found version {found}")
    return java


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (a dead child not yet reaped)."""
    with contextlib.suppress(ChildProcessError):
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _port_is_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False
