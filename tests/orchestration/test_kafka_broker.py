"""The local broker's lifecycle and its clear errors, against real processes."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestration.cli import main
from orchestration.kafka.broker import BrokerStartError, LocalBroker, new_cluster_id
from orchestration.kafka.jars import BrokerSetupError
from orchestration.kafka.topics import provision_topics
from pipelines.kafka_io import KafkaUnavailable, admin_client
from schemas.settings import Settings, with_overrides
from tests.conftest import broker_settings, free_port_pair


def test_start_when_running_is_a_no_op(kafka_settings: Settings) -> None:
    broker = LocalBroker(kafka_settings)
    pid_before = broker.status().pid

    message = broker.start()

    assert message.startswith("Kafka broker already running")
    assert broker.status().pid == pid_before
    assert broker.status().answering


def test_full_lifecycle_of_a_second_broker_whose_cluster_id_starts_with_a_dash(
    tmp_path: Path,
) -> None:
    # URL-safe base64 ids start with "-" about one time in 64; kafka-storage must not read the
    # id as an option. A fresh home with such an id forced must format and serve (one broker
    # start for both: each takes seconds).
    cluster_id = "-" + new_cluster_id()[1:]
    settings = broker_settings(tmp_path)
    broker = LocalBroker(settings, cluster_id=cluster_id)
    assert broker.stop() == "Kafka broker is not running"

    started = broker.start()
    try:
        assert started.startswith("Kafka broker started")
        assert broker.status().answering
        meta = (tmp_path / "kafka" / "data" / "meta.properties").read_text()
        assert f"cluster.id={cluster_id}\n" in meta
    finally:
        stopped = broker.stop()

    assert stopped.startswith("Kafka broker stopped")
    assert broker.status().running is False
    assert broker.stop() == "Kafka broker is not running"
    # A stopped broker gives a clear error, not a hang.
    with pytest.raises(
        KafkaUnavailable, match=f"no Kafka broker answers at 127.0.0.1:{settings.kafka.port}"
    ):
        provision_topics(with_overrides(settings, kafka={"request_timeout_seconds": 3}))


def test_generated_cluster_ids_never_start_with_a_dash() -> None:
    ids = [new_cluster_id() for _ in range(2000)]  # about 31 would start with "-" by chance
    assert not [i for i in ids if i.startswith("-")]
    assert {len(i) for i in ids} == {22} and len(set(ids)) == len(ids)


def test_wrong_bootstrap_address_fails_fast_with_one_line(tmp_path: Path) -> None:
    settings = with_overrides(
        broker_settings(tmp_path),
        kafka={"bootstrap_servers": f"127.0.0.1:{free_port_pair()}", "request_timeout_seconds": 3},
    )
    with pytest.raises(KafkaUnavailable) as failure, admin_client(settings):
        pass
    assert "\n" not in str(failure.value)
    assert settings.kafka.bootstrap in str(failure.value)


def test_port_taken_is_reported_before_starting(tmp_path: Path) -> None:
    settings = broker_settings(tmp_path)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", settings.kafka.port))
        squatter.listen()
        with pytest.raises(
            BrokerStartError, match=f"port {settings.kafka.port} on 127.0.0.1 is taken"
        ):
            LocalBroker(settings).start()
    assert LocalBroker(settings).status().running is False


def test_broker_dying_during_start_up_shows_its_log(tmp_path: Path) -> None:
    # A heap far below what the JVM needs makes it exit at once, like a broken install would.
    settings = with_overrides(broker_settings(tmp_path), kafka={"heap": "1m"})
    with pytest.raises(BrokerStartError) as failure:
        LocalBroker(settings).start()
    assert "died during start-up" in str(failure.value)
    assert "last log lines" in str(failure.value)
    assert LocalBroker(settings).status().running is False


def test_missing_java_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty PATH: neither java nor mvn
    with pytest.raises(BrokerSetupError, match="Java 17\\+ is not on PATH"):
        LocalBroker(broker_settings(tmp_path)).start()


def test_cli_status_and_stop_of_a_broker_that_never_ran(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"OMNICX_HOME": str(tmp_path), "OMNICX_KAFKA_PORT": str(free_port_pair())}

    status = runner.invoke(main, ["kafka", "status"], env=env)
    stop = runner.invoke(main, ["kafka", "stop"], env=env)

    assert (status.exit_code, status.output.strip()) == (1, "Kafka broker is not running")
    assert (stop.exit_code, stop.output.strip()) == (0, "Kafka broker is not running")


def test_every_subcommand_has_help_text() -> None:
    def walk(command, path):
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, [*path, name])

    for path, command in walk(main, []):
        assert command.help, f"omnicx {' '.join(path)} has no help text"
        result = CliRunner().invoke(main, [*path, "--help"], prog_name="omnicx")
        assert result.exit_code == 0
        assert result.output.startswith(f"Usage: omnicx {' '.join(path)}".rstrip())
        assert " ".join(command.help.split()[:6]) in " ".join(result.output.split())
