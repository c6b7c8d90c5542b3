"""Session-wide fixtures: the real Kafka broker, started through the same code as
``omnicx kafka start`` and stopped at the end of the session, whatever the tests did."""

from __future__ import annotations

import os
import random
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestration.kafka.broker import LocalBroker
from orchestration.kafka.topics import provision_topics
from schemas.settings import Settings, with_overrides
from tests.pii import TEST_PII_KEY, keyed_settings
from tests.simulated_pipeline import SimulatedPipeline, run_simulated_pipeline

REPO = Path(__file__).resolve().parents[1]


def free_port_pair() -> int:
    """A port p such that p and p + 1 (the controller) are free on loopback, below the range the
    kernel hands out to outgoing connections: a broker restarted on its ports (the outage tests)
    must find them free, and a client of any process on the machine may take a port of that
    range in the meantime."""
    low, _ = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    for _ in range(200):
        port = random.randrange(10_000, low - 1)
        if all(_bindable(candidate) for candidate in (port, port + 1)):
            return port
    raise RuntimeError("no free pair of loopback ports")


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture(autouse=True)
def test_pii_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands run in process (``CliRunner``) read the environment: give them the test key, so
    that no test generates a key in the working directory's ``.omnicx``."""
    monkeypatch.setenv("OMNICX_PII_KEY", TEST_PII_KEY)


def broker_settings(home: Path) -> Settings:
    """Settings for a broker of its own under ``home``, on free ports, with the shared jar cache."""
    settings = with_overrides(
        keyed_settings(),
        kafka={"port": free_port_pair(), "jars_dir": REPO / ".omnicx" / "jars", "heap": "512m"},
    )
    return with_overrides(settings, home=home)


def discard_broker(broker: LocalBroker) -> None:
    """Stop a broker whose data goes with the test: killed, without its clean shutdown (8 s on
    a busy machine, and a whole minute when it did not act on SIGTERM); ``stop`` then reaps it
    and removes its pid file."""
    if (pid := broker.status().pid) is not None:
        os.kill(pid, signal.SIGKILL)
    broker.stop()


@pytest.fixture(scope="session")
def kafka_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings pointing at a real broker that runs for the whole test session, topics created."""
    settings = broker_settings(tmp_path_factory.mktemp("omnicx-home"))
    broker = LocalBroker(settings)
    broker.start()
    try:
        provision_topics(settings)
        yield settings
    finally:
        discard_broker(broker)


@pytest.fixture(scope="session")
def simulated_pipeline(
    kafka_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> SimulatedPipeline:
    """Two simulated days streamed, landed and refreshed once per session, for the tests that
    only read the outcome (tests/simulated_pipeline.py)."""
    return run_simulated_pipeline(kafka_settings, tmp_path_factory.mktemp("simulated-pipeline"))


# tryfirst: pytest-xdist's own hook, which makes each group's tests one unit of work from their
# markers, must see the markers this one adds (without it, every test was a unit of its own).
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that uses the session's broker (directly or through a fixture such as
    ``simulated_pipeline``) is a ``kafka`` test, marked or not, so that ``-m "not kafka"`` is the
    fast lane without a broker.

    Under pytest-xdist (``--dist=loadgroup``) each worker has its own session fixtures: the
    tests of one file run on one worker, so that a module's costly fixture (a pipeline run) is
    paid once, and so do all the readers of ``simulated_pipeline``, paid once per suite.

    The groups with a ``kafka`` test (the long ones: pipelines, brokers, processes) come first,
    the others after them in their order: the workers take groups in this order
    (``--no-loadscope-reorder`` in ``pyproject.toml``), so the many short tests fill the end of
    the run instead of one worker finishing a pipeline alone."""
    groups: dict[pytest.Item, str] = {}
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "kafka_settings" in fixtures:
            item.add_marker(pytest.mark.kafka)
        groups[item] = "simulated_pipeline" if "simulated_pipeline" in fixtures else item.path.name
        item.add_marker(pytest.mark.xdist_group(groups[item]))
    long_groups = {groups[item] for item in items if item.get_closest_marker("kafka")}
    items.sort(key=lambda item: groups[item] not in long_groups)
