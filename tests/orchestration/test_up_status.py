"""``omnicx up`` / ``status`` / ``down`` on real deployments (issue 11).

- the README's main command, ``./dev demo``, on a fresh home with its own broker: its output
  has no library log lines and no escape codes (it is not on a terminal), holds the KPIs of the
  three brands and the alerts that fired (count, top reasons, an example) and ends with where
  everything is; the Dagster UI answers on its port; then
  ``omnicx down`` leaves none of the processes ``up`` started (checked by pid and start time);
- ``omnicx status`` of a deployment on the session's broker (a configured cluster: ``up``
  starts no broker, ``down`` stops none): the lag before anything consumed, then the services,
  the groups' members, zero lag, the last landed file, the newest event and today's dead
  letters once the stream and the sink caught up.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from kafka.errors import CoordinatorNotAvailableError, GroupAuthorizationFailedError

from orchestration.kafka.lag import stage_consumers, wait_until_caught_up
from orchestration.services import ProcessId, Services, _descendants
from orchestration.status import _coordinator_not_ready, gather
from pipelines.kafka_io import broker_answers
from pipelines.simulator.catalog import TENANT_NAMES
from pipelines.simulator.config import SimulationConfig
from schemas.settings import Settings, with_overrides
from schemas.settings_env import settings_env
from schemas.topics import topic_names
from tests.conftest import free_port_pair
from tests.harness import REPO, isolated_settings
from tests.streams.test_stream_pipeline import Simulated

# A line a library's logging (or warnings) would print: a timestamp first, a level name, or a
# Python warning or traceback.
LIBRARY_LOG = re.compile(
    r"^\s*\[?\d{4}-\d\d-\d\d[ T]\d\d:\d\d|\b(DEBUG|INFO|WARNING|WARN|CRITICAL)\b|Warning:|Traceback"
)


def _run_omnicx(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "orchestration", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"omnicx {' '.join(args)} failed:\n{done.stdout}{done.stderr}"
    return done.stdout


def _started_processes(home: Path) -> list[ProcessId]:
    """supervisord (from what ``up`` recorded) and every process under it."""
    recorded = json.loads((home / "run" / "state.json").read_text())["supervisord"]
    supervisord = ProcessId(**recorded)
    assert supervisord.alive()
    return [supervisord, *_descendants(supervisord.pid)]


@pytest.mark.kafka
@pytest.mark.timeout(1200)  # three simulated days, a broker and Dagster on a 2-core machine
def test_readme_main_command_on_a_fresh_home_then_down_leaves_no_process(
    tmp_path: Path,
) -> None:
    home = tmp_path / "h"
    ui_port, board_port = free_port_pair(), free_port_pair()
    env = {
        **os.environ,
        "OMNICX_HOME": str(home),
        "OMNICX_KAFKA_PORT": str(free_port_pair()),
        "OMNICX_KAFKA_HEAP": "512m",
        "OMNICX_SERVICES_DAGSTER_PORT": str(ui_port),
        "OMNICX_WALLBOARD_PORT": str(board_port),
        # the README's command on a smaller centre: nothing below depends on its volume
        "DEMO_AGENTS": "12",
    }
    log = tmp_path / "demo.log"
    with log.open("wb") as out:  # not a terminal
        done = subprocess.run(
            [str(REPO / "dev"), "demo"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    output = log.read_text()
    processes: list[ProcessId | None] = []
    try:
        assert done.returncode == 0, output[-4000:]
        processes = _started_processes(home)
        processes.append(ProcessId.of(int((home / "kafka" / "broker.pid").read_text())))
        assert "\x1b" not in output
        library_lines = [line for line in output.splitlines() if LIBRARY_LOG.search(line)]
        assert library_lines == []
        for tenant in TENANT_NAMES[:3]:  # the simulator's default three brands
            assert tenant in output
        # The exact count of today's dead letters, with a pinned day: the next test.
        assert re.search(r"^dead letters today:\s+\d+ ", output, re.M)
        assert re.search(r"^last refresh:\s+SUCCESS ", output, re.M)
        assert re.search(r"^failed checks:\s+none$", output, re.M)
        # The alerts of the demo days, from the warehouse: a count, top reasons, an example.
        fired = re.search(r"^alerts fired:\s+([\d,]+)  \(.*\bflagged [\d,]+", output, re.M)
        assert fired and int(fired[1].replace(",", "")) > 0
        assert re.search(r"^top reasons:\s+[a-z_0-9]+ [\d,]+", output, re.M)
        example = re.search(
            r"^example:\s+(al-[0-9a-f]{24})  \S+  score \d+ \(threshold 50\): [a-z_0-9]+ \+\d+",
            output,
            re.M,
        )
        # The same alerts as `omnicx alerts list` reads (every alert is of the demo days).
        listed = orjson.loads(_run_omnicx(env, "alerts", "list", "--format", "json"))
        assert len(listed) == int(fired[1].replace(",", ""))
        assert example and example[1] in {row["alert_id"] for row in listed}
        lags = re.findall(r"^  \S+\s+lag (\d+)$", output, re.M)
        assert lags and set(lags) == {"0"}
        # The report of the demo days: its two paths printed, each a file it wrote.
        reports = [Path(line) for line in output.splitlines() if line.startswith(str(home))]
        assert sorted(p.suffix for p in reports) == [".html", ".pdf"]
        assert all(p.parent == home / "reports" and p.stat().st_size > 0 for p in reports)
        assert any(f"{home}/reports" in line for line in output.splitlines()[-9:])
        summary = output.rstrip().splitlines()[-10:]
        assert summary[0].split()[:3] == ["Dagster", "UI", f"http://127.0.0.1:{ui_port}"]
        board = f"http://127.0.0.1:{board_port}/?token=$(cat {home}/wallboard.token)"
        assert summary[1].split()[0] == "wallboard" and board in summary[1]
        # The wallboard, with the generated operator token, reaches the demo's last day (its
        # agents may trail the ingest by a little: poll).
        token = (home / "wallboard.token").read_text().strip()
        request = urllib.request.Request(f"http://127.0.0.1:{board_port}/t/acme-telecom/board.json")
        request.add_header("Authorization", f"Bearer {token}")
        deadline = time.monotonic() + 120
        while True:
            with urllib.request.urlopen(request, timeout=10) as answer:
                board = json.loads(answer.read())
            if board["day"] == "2026-01-07" or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert board["day"] == "2026-01-07" and board["tiles"]
        assert any(f"{home}/warehouse.duckdb" in line for line in summary)
        assert summary[-1].endswith("omnicx down")
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/server_info", timeout=10) as r:
            assert "dagster_webserver_version" in json.loads(r.read())
        # The UI started before any data landed; the refresh made it reload its definitions,
        # so its partitions start at the demo's first day rather than at the day of `up`.
        assert f"the Dagster UI (http://127.0.0.1:{ui_port}) reloaded its definitions" in output
        assert _ui_partition_keys(ui_port, "int_events")[0] == "2026-01-05"
        printed = {p.stem for p in (home / "logs").glob("*.out")}
        assert {"stream-1", "sink", "wallboard", "dagster-webserver", "dagster-daemon"} <= printed
    finally:
        _run_omnicx(env, "down", timeout=600)
    # supervisord, its four services (and what they started), the broker
    assert len(processes) >= 6 and None not in processes
    assert [p for p in processes if p.alive()] == []


def _ui_partition_keys(port: int, asset: str) -> list[str]:
    """The partition keys of an asset as the running Dagster UI has them (its GraphQL API)."""
    query = (
        "query ($key: AssetKeyInput!) "
        "{ assetNodeOrError(assetKey: $key) { ... on AssetNode { partitionKeys } } }"
    )
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": {"key": {"path": [asset]}}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())["data"]["assetNodeOrError"]["partitionKeys"]


SMALL = SimulationConfig(seed=5, days=1, agents=6, tenants=2)


@pytest.mark.kafka
def test_status_of_a_running_deployment(kafka_settings: Settings, tmp_path: Path) -> None:
    settings = isolated_settings(kafka_settings, tmp_path / "h")
    settings = with_overrides(
        settings,
        kafka={"bootstrap_servers": kafka_settings.kafka.bootstrap},  # a "cluster": no broker
        warehouse={"sink_group_id": f"{settings.stream.app_id}-sink", "sink_batch_seconds": 1.0},
        wallboard={"port": free_port_pair()},
    )
    env = {**os.environ, **settings_env(settings)}
    started = datetime.now(UTC)
    truth = Simulated(settings, SMALL)
    names = topic_names(settings)

    before = gather(settings, started)
    assert before.broker_answers and before.kafka_error is None
    groups = {g.stage: g for g in before.groups}
    assert groups["stream"].lag == {
        names.raw_events: len(truth.messages),
        names.identity: 0,
        names.events: 0,
        names.alerts: 0,
    }
    assert groups["stream"].members == 0 and groups["sink"].members == 0
    assert before.services == [] and before.dead_letters_today == 0
    assert before.last_landed is None and before.newest_event is None
    assert before.last_refresh is None

    _run_omnicx(env, "up", "--no-dagster")
    processes = _started_processes(settings.home)
    try:
        for stage in ("stream", "sink"):
            group, topics = stage_consumers(settings, stage)
            assert not any(wait_until_caught_up(settings, group, topics, 300).values())
        _run_omnicx(env, "warehouse", "build")
        after = gather(settings, started)
        assert after.kafka_error is None
        assert {(s.name, s.state) for s in after.services} == {
            ("stream-1", "RUNNING"),
            ("sink", "RUNNING"),
            ("wallboard", "RUNNING"),
        }
        assert all(ProcessId.of(s.pid) in processes for s in after.services)
        groups = {g.stage: g for g in after.groups}
        assert groups["stream"].members == 1 and groups["sink"].members == 1
        assert not any(groups["stream"].lag.values()) and not any(groups["sink"].lag.values())
        malformed = sum(truth.malformed.values())
        assert malformed > 0 and after.dead_letters_today == malformed
        assert gather(settings, started + timedelta(days=1)).dead_letters_today == 0
        assert after.last_landed is not None
        assert started - timedelta(seconds=2) <= after.last_landed <= datetime.now(UTC)
        assert after.newest_event == _newest_valid_event(truth)

        shown = _run_omnicx(env, "status")
        assert re.search(rf"^dead letters today:\s+{malformed} ", shown, re.M)
        assert re.search(r"^  stream-1\s+RUNNING\s+pid \d+", shown, re.M)
    finally:
        _run_omnicx(env, "down", timeout=600)
    assert [p for p in processes if p.alive()] == []
    assert Services(settings).supervisord() is None
    assert broker_answers(settings, 5)  # the cluster up did not start is left running


def _newest_valid_event(truth: Simulated) -> datetime:
    newest = max(
        orjson.loads(message)["occurred_at"]
        for message in truth.messages
        if message not in truth.malformed
    )
    return datetime.fromisoformat(newest.replace("Z", "+00:00")).astimezone(UTC)


def test_describing_a_group_is_retried_while_the_coordinator_is_not_ready() -> None:
    # kafka-python 2.3's own failure to read an error response of DescribeGroups (a moment
    # after a broker's first start) is retried like the error it carries; nothing else is
    assert _coordinator_not_ready(ValueError("31 is not a valid ACLOperation"))
    assert _coordinator_not_ready(CoordinatorNotAvailableError())
    assert not _coordinator_not_ready(GroupAuthorizationFailedError())
    assert not _coordinator_not_ready(ValueError("31 is not a valid Color"))
