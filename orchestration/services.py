"""The background services of ``omnicx up``, run by supervisord (the ``supervisor`` package).

``up`` writes ``$OMNICX_HOME/run/supervisord.conf`` with one program per service (the stream
worker(s), the lake sink, the alert delivery worker when alert channels are configured, the
Dagster webserver and daemon) and starts ``supervisord`` on it,
detached from the terminal. supervisord keeps each service running (a crashed one is started
again), writes its output to ``$OMNICX_HOME/logs/<service>.log`` (rotated), and on SIGTERM stops
every service (SIGTERM, then SIGKILL to its process group after its stop time) before it exits.
omnicx asks it what runs through its XML-RPC interface on a Unix socket only the owner can open.

What ``up`` started is recorded in ``$OMNICX_HOME/run/state.json``: supervisord's pid with the
process's start time (so that a pid the kernel recycled for another process is never signalled)
and whether ``up`` started the local broker. ``down`` stops exactly that: it collects every
process under supervisord, sends supervisord SIGTERM, waits until all of them are gone (killing
any left after the stop time), then stops the broker if ``up`` started it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import xmlrpc.client
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from orchestration.dagster_home import prepare_dagster_home
from schemas.settings import Settings
from schemas.settings_env import settings_env

log = logging.getLogger(__name__)

# The module the UI and the daemon load; Dagster names the code location after it.
DEFINITIONS_MODULE = "orchestration.definitions"
RUN_DIR = "run"  # under home: supervisord's configuration, socket and omnicx's state file
_POLL_SECONDS = 0.25
_MAX_SOCKET_PATH = 100  # a Unix socket path is at most 107 bytes on Linux


class ServicesError(RuntimeError):
    """The services could not be started or stopped; the message says why in one line."""


@dataclass(frozen=True)
class Service:
    name: str
    command: list[str]
    stop_seconds: float
    stop_as_group: bool  # Dagster's processes start code servers of their own


@dataclass(frozen=True)
class ProcessId:
    """A process by pid and start time (clock ticks after boot): a recycled pid is another
    process."""

    pid: int
    started: int

    @classmethod
    def of(cls, pid: int) -> ProcessId | None:
        started = _start_ticks(pid)
        return None if started is None else cls(pid, started)

    def alive(self) -> bool:
        return _start_ticks(self.pid) == self.started


@dataclass(frozen=True)
class ServiceState:
    name: str
    state: str  # supervisord's: RUNNING, STARTING, BACKOFF, EXITED, FATAL, STOPPED ...
    pid: int | None
    uptime_seconds: float | None
    log_file: Path


def planned_services(settings: Settings, dagster: bool) -> list[Service]:
    """The services ``up`` runs with these settings; ``dagster=False`` leaves Dagster out."""
    # The home on the command line too: `ps` tells which deployment a process belongs to.
    omnicx = [sys.executable, "-m", "orchestration", "--home", str(settings.home.resolve())]
    # A stream worker stops within stop_grace_seconds (it kills its Faust worker after it).
    stream_stop = settings.stream.stop_grace_seconds + settings.services.stop_timeout_seconds
    services = [
        Service(f"stream-{n}", [*omnicx, "stream", "--worker", f"worker-{n}"], stream_stop, False)
        for n in range(1, settings.services.stream_workers + 1)
    ]
    services.append(
        Service("sink", [*omnicx, "sink"], settings.services.stop_timeout_seconds, False)
    )
    # The live wallboard (docs/wallboard.md): open event streams are cut after a short grace.
    services.append(Service("wallboard", [*omnicx, "wallboard"], 5, False))
    every = settings.services.refresh_every_seconds
    if every:  # docs/orchestration.md, Keeping the marts fresh
        refresh = [*omnicx, "refresh", "--follow", "--every", f"{every:g}"]
        services.append(Service("refresh", refresh, settings.services.stop_timeout_seconds, False))
    if settings.alerts.channels_configured:  # docs/alerts.md, Delivery
        stop = settings.services.stop_timeout_seconds
        services.append(Service("alerts-deliver", [*omnicx, "alerts", "deliver"], stop, False))
    if dagster:
        bin_dir = Path(sys.executable).parent
        where = ["-m", DEFINITIONS_MODULE]
        web = [
            str(bin_dir / "dagster-webserver"), *where,
            "-h", settings.services.dagster_host, "-p", str(settings.services.dagster_port),
        ]  # fmt: skip
        daemon = [str(bin_dir / "dagster-daemon"), "run", *where]
        stop = settings.services.stop_timeout_seconds
        services += [Service("dagster-webserver", web, stop, True)]
        services += [Service("dagster-daemon", daemon, stop, True)]
    return services


def dagster_url(settings: Settings) -> str:
    return f"http://{settings.services.dagster_host}:{settings.services.dagster_port}"


def wallboard_url(settings: Settings) -> str:
    return f"http://{settings.wallboard.host}:{settings.wallboard.port}/"


class Services:
    """supervisord and the services of one ``$OMNICX_HOME``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.run_dir = settings.home.resolve() / RUN_DIR
        self.logs_dir = settings.log_dir.resolve()
        self.config_file = self.run_dir / "supervisord.conf"
        self.socket = self.run_dir / "supervisor.sock"
        self.state_file = self.run_dir / "state.json"

    # -- state --------------------------------------------------------------------------------

    def recorded(self) -> dict[str, Any]:
        """What ``up`` recorded (empty when nothing was started)."""
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}

    def _record(self, **changes: Any) -> None:
        state = {**self.recorded(), **changes}
        self.run_dir.mkdir(parents=True, exist_ok=True)
        temporary = self.state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(state, indent=2))
        temporary.replace(self.state_file)

    def supervisord(self) -> ProcessId | None:
        """supervisord, if the one ``up`` started still runs."""
        recorded = self.recorded().get("supervisord")
        if not recorded:
            return None
        process = ProcessId(**recorded)
        return process if process.alive() else None

    def record_broker_started(self, started: bool) -> None:
        # A second `up` finds the broker running, but the first one started it: keep that.
        self._record(broker_started=started or bool(self.recorded().get("broker_started")))

    # -- up -----------------------------------------------------------------------------------

    def start(self, services: list[Service]) -> None:
        """Start supervisord with ``services`` and wait until each runs (the UI answers)."""
        if self.supervisord() is not None:
            raise ServicesError(
                f"the services of {self.settings.home} already run (`omnicx down` stops them)"
            )
        if len(str(self.socket)) > _MAX_SOCKET_PATH:
            raise ServicesError(f"{self.socket} is too long for a Unix socket; use a shorter home")
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.socket.unlink(missing_ok=True)  # left by a supervisord that was killed
        dagster_home = prepare_dagster_home(self.settings).resolve()  # telemetry off
        if any(s.name.startswith("dagster-") for s in services):
            _create_dagster_storage(dagster_home)
        self.config_file.write_text(self._config(services))
        # The services get this process's exact settings, and the home as an absolute path.
        env = {
            **os.environ,
            **settings_env(self.settings),
            "OMNICX_HOME": str(self.settings.home.resolve()),
            "DAGSTER_HOME": str(dagster_home),
            "PYTHONUNBUFFERED": "1",
        }
        supervisor_bin = Path(sys.executable).parent / "supervisord"
        with (self.logs_dir / "supervisord.out").open("ab") as out:
            process = subprocess.Popen(
                [str(supervisor_bin), "--nodaemon", "--configuration", str(self.config_file)],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in the caller's terminal must not stop it
            )
        started = ProcessId.of(process.pid)
        if started is None:
            raise ServicesError(f"supervisord exited at once; see {self.logs_dir}/supervisord.out")
        self._record(supervisord=asdict(started))
        try:
            self._wait_until_running(services, process)
        except ServicesError:
            self.stop()
            raise

    def _wait_until_running(self, services: list[Service], process: subprocess.Popen) -> None:
        deadline = time.monotonic() + self.settings.services.start_timeout_seconds
        names = {s.name for s in services}
        while True:
            if process.poll() is not None:
                raise ServicesError(f"supervisord exited; see {self.logs_dir}/supervisord.log")
            states = self._states_or_none()
            if states is not None:
                # supervisord restarts a service that exits early, up to startretries times.
                failed = [s for s in states if s.state == "FATAL"]
                if failed:
                    raise ServicesError(
                        f"service {failed[0].name} did not start ({failed[0].state}); "
                        f"see {failed[0].log_file}"
                    )
                running = {s.name for s in states if s.state == "RUNNING"}
                if running >= names and self._ui_answers(names):
                    return
            if time.monotonic() > deadline:
                raise ServicesError(
                    f"services did not all run within "
                    f"{self.settings.services.start_timeout_seconds:.0f} s; see {self.logs_dir}"
                )
            time.sleep(_POLL_SECONDS)

    def _ui_answers(self, names: Iterable[str]) -> bool:
        if "dagster-webserver" not in names:
            return True
        try:
            with urllib.request.urlopen(f"{dagster_url(self.settings)}/server_info", timeout=2):
                return True
        except (urllib.error.URLError, OSError):
            return False

    def reload_ui_definitions(self) -> bool:
        """Make this home's running Dagster UI load the definitions again; whether it did.

        The UI of ``omnicx up`` loads them when it starts, often before any data landed: its
        partitions then start at that day (orchestration.partitions) and every materialization
        of an earlier day shows as missing. ``omnicx refresh`` calls this after its run."""
        running = {s.name for s in self.states() if s.state == "RUNNING"}
        if "dagster-webserver" not in running:
            return False
        from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

        services = self.settings.services
        client = DagsterGraphQLClient(
            services.dagster_host, port_number=services.dagster_port, timeout=30
        )
        try:
            client.reload_repository_location(DEFINITIONS_MODULE)
        except (DagsterGraphQLClientError, OSError) as exc:
            log.warning("the Dagster UI did not reload its definitions (%s)", exc)
            return False
        return True

    def _config(self, services: list[Service]) -> str:
        def value(text: str | Path) -> str:
            return str(text).replace("%", "%%")  # supervisord expands %(name)s in values

        sections = [
            f"[unix_http_server]\nfile={value(self.socket)}\nchmod=0700\n",
            "[supervisord]\n"
            f"logfile={value(self.logs_dir / 'supervisord.log')}\n"
            f"pidfile={value(self.run_dir / 'supervisord.pid')}\n"
            f"directory={value(Path.cwd())}\n"
            f"childlogdir={value(self.logs_dir)}\n"
            "identifier=omnicx\n",
            "[rpcinterface:supervisor]\n"
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n",
            f"[supervisorctl]\nserverurl=unix://{value(self.socket)}\n",
        ]
        for service in services:
            group = "true" if service.stop_as_group else "false"
            sections.append(
                f"[program:{service.name}]\n"
                f"command={value(shlex.join(service.command))}\n"
                f"directory={value(Path.cwd())}\n"
                "autostart=true\nautorestart=true\nstartsecs=3\nstartretries=3\n"
                f"stopsignal=TERM\nstopwaitsecs={service.stop_seconds:.0f}\n"
                f"stopasgroup={group}\nkillasgroup=true\n"
                "redirect_stderr=true\n"
                # What the process prints; its own log file (pipelines.logs) is <command>.log.
                f"stdout_logfile={value(self.logs_dir / f'{service.name}.out')}\n"
                "stdout_logfile_maxbytes=50MB\nstdout_logfile_backups=5\n"
            )
        return "\n".join(sections)

    # -- status -------------------------------------------------------------------------------

    def _rpc(self) -> Any:
        from supervisor.xmlrpc import SupervisorTransport

        transport = SupervisorTransport(None, None, f"unix://{self.socket}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor

    def _states_or_none(self) -> list[ServiceState] | None:
        try:
            infos = self._rpc().getAllProcessInfo()
        except (OSError, xmlrpc.client.Fault):
            return None
        return [
            ServiceState(
                name=info["name"],
                state=info["statename"],
                pid=info["pid"] or None,
                uptime_seconds=info["now"] - info["start"] if info["pid"] else None,
                log_file=Path(info["stdout_logfile"]),
            )
            for info in infos
        ]

    def states(self) -> list[ServiceState]:
        """Each service's state, as supervisord sees it (empty when it does not run)."""
        if self.supervisord() is None:
            return []
        return self._states_or_none() or []

    # -- down ---------------------------------------------------------------------------------

    def stop(self, say: Callable[[str], None] = lambda _: None) -> bool:
        """Stop supervisord and every process under it, and wait until all are gone; whether
        anything ran."""
        supervisord = self.supervisord()
        if supervisord is None:
            if self.recorded().get("supervisord"):
                self._record(supervisord=None)  # it is gone: forget it
            return False
        processes = [supervisord, *_descendants(supervisord.pid)]
        with contextlib.suppress(ProcessLookupError):
            os.kill(supervisord.pid, signal.SIGTERM)  # supervisord stops its services, then exits
        longest = max(
            [self.settings.stream.stop_grace_seconds, self.settings.services.stop_timeout_seconds]
        )
        _wait_gone(processes, longest + self.settings.services.stop_timeout_seconds)
        left = [p for p in processes if p.alive()]
        for process in left:  # only what a service started and left running
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)
        _wait_gone(left, self.settings.services.stop_timeout_seconds)
        _reap(supervisord.pid)
        self._record(supervisord=None)
        say(f"services stopped ({len(processes)} processes)")
        return True

    def record_broker_stopped(self) -> None:
        self._record(broker_started=False)


def _create_dagster_storage(dagster_home: Path) -> None:
    """Create the instance's SQLite databases now: the webserver and the daemon, starting
    together on a fresh home, would both create them and one would fail."""
    from dagster import DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    with DagsterInstance.from_ref(InstanceRef.from_dir(str(dagster_home))):
        pass


def _start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks after boot, None if it is gone or a zombie."""
    _reap(pid)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":
        return None
    return int(fields[19])  # field 22 of proc(5); fields[0] is field 3


def _reap(pid: int) -> None:
    """Collect ``pid`` if it is a child of this process that exited (else it stays a zombie)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _descendants(root: int) -> list[ProcessId]:
    """Every process below ``root`` (children, their children ...), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found: list[ProcessId] = []
    pending = list(children.get(root, []))
    while pending:
        pid = pending.pop()
        process = ProcessId.of(pid)
        if process is not None:
            found.append(process)
        pending += children.get(pid, [])
    return found


def _wait_gone(processes: list[ProcessId], timeout_seconds: float) -> None:
    deadline = time.monotonic() + timeout_seconds
    while any(p.alive() for p in processes) and time.monotonic() < deadline:
        time.sleep(_POLL_SECONDS)
