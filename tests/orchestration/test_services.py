"""``orchestration.services`` without a broker: which services ``up`` plans, and that ``down``
signals nothing but the supervisord that ``up`` recorded (a recycled pid is another process)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from orchestration.services import ProcessId, Services, planned_services
from schemas.settings import Settings, SettingsError, with_overrides


def test_up_plans_the_configured_workers_the_sink_and_dagster_on_its_port() -> None:
    settings = with_overrides(Settings(), services={"stream_workers": 2, "dagster_port": 3123})
    services = {s.name: s for s in planned_services(settings, dagster=True)}
    assert list(services) == [
        "stream-1",
        "stream-2",
        "sink",
        "wallboard",
        "dagster-webserver",
        "dagster-daemon",
    ]
    assert services["stream-2"].command[-3:] == ["stream", "--worker", "worker-2"]
    assert services["dagster-webserver"].command[-2:] == ["-p", "3123"]
    assert [s.name for s in planned_services(settings, dagster=False)] == [
        "stream-1",
        "stream-2",
        "sink",
        "wallboard",
    ]


def test_up_plans_the_refresh_loop_only_when_asked() -> None:
    assert "refresh" not in {s.name for s in planned_services(Settings(), dagster=True)}
    settings = with_overrides(Settings(), services={"refresh_every_seconds": 15})
    services = {s.name: s for s in planned_services(settings, dagster=False)}
    assert services["refresh"].command[-4:] == ["refresh", "--follow", "--every", "15"]
    with pytest.raises(SettingsError, match="refresh_every_seconds"):
        with_overrides(Settings(), services={"refresh_every_seconds": 0.5})


def test_a_process_is_known_by_pid_and_start_time() -> None:
    with subprocess.Popen(["sleep", "60"]) as sleeper:
        found = ProcessId.of(sleeper.pid)
        assert found is not None and found.alive()
        assert not ProcessId(sleeper.pid, found.started + 1).alive()  # the pid, recycled
        sleeper.kill()
        sleeper.wait()
        assert not found.alive()


def test_down_never_signals_a_pid_that_is_no_longer_supervisord(tmp_path: Path) -> None:
    settings = with_overrides(Settings(), home=tmp_path)
    services = Services(settings)
    with subprocess.Popen(["sleep", "60"]) as stranger:
        started = ProcessId.of(stranger.pid)
        assert started is not None
        services.run_dir.mkdir(parents=True)
        recycled = {"pid": stranger.pid, "started": started.started - 1}
        services.state_file.write_text(json.dumps({"supervisord": recycled}))
        assert services.stop() is False
        assert stranger.poll() is None and started.alive()
        stranger.kill()
    assert services.recorded()["supervisord"] is None
