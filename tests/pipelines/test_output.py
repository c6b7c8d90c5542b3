"""Files, determinism, message keys, the Kafka writer (with a stand-in client) and the CLI."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from orchestration.cli import main
from pipelines.kafka_io import KafkaUnavailable
from pipelines.producer import message_key, produce, raw_events_topic
from pipelines.simulator.config import ConfigError, FaultRates, SimulationConfig
from pipelines.simulator.files import read_events
from pipelines.simulator.run import Simulation
from schemas.records import ContactFacts, JourneyFacts
from schemas.times import format_utc, parse_rfc3339
from tests.pii import keyed_settings
from tests.pipelines import replay
from tests.pipelines.conftest import Run, simulate_to

TINY = SimulationConfig(seed=3, agents=9, tenants=3, days=1)
FILES = ("events.jsonl", "ground_truth.json", "ground_truth_contacts.jsonl")
FILES += ("ground_truth_journeys.jsonl",)


def digests(directory: Path) -> dict[str, str]:
    return {name: hashlib.sha256((directory / name).read_bytes()).hexdigest() for name in FILES}


def test_the_same_seed_gives_the_same_bytes_and_another_seed_others(tmp_path: Path) -> None:
    first = digests(simulate_to(tmp_path / "a", TINY).directory)
    again = digests(simulate_to(tmp_path / "b", TINY).directory)
    other = digests(
        simulate_to(tmp_path / "c", SimulationConfig(**{**vars(TINY), "seed": 4})).directory
    )
    assert first == again
    assert all(first[name] != other[name] for name in FILES)


def test_the_bytes_do_not_depend_on_the_process_hash_seed(tmp_path: Path) -> None:
    script = (
        "import sys; from pathlib import Path;"
        "from pipelines.simulator.config import SimulationConfig;"
        "from pipelines.simulator.files import write_run;"
        "from pipelines.simulator.run import Simulation;"
        "from tests.pii import keyed_settings;"
        "write_run(Simulation(SimulationConfig(seed=3, agents=9, tenants=3), keyed_settings()),"
        " Path(sys.argv[1]))"
    )
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / hash_seed)], env=env, check=True
        )
    assert digests(tmp_path / "1") == digests(tmp_path / "2")


def test_a_tiny_run_writes_every_file_in_its_shape(tmp_path: Path) -> None:
    run = simulate_to(tmp_path, TINY)
    assert 1_000 < len(run.lines) < 20_000
    assert all(line and b"\n" not in line for line in run.lines)
    ids = [c["contact_id"] for c in run.contacts]
    assert ids == sorted(set(ids)) and len(ids) == run.truth["counts"]["contacts"]
    assert all(set(c) == {f.name for f in fields(ContactFacts)} for c in run.contacts)
    journey_ids = [j["journey_id"] for j in run.journeys]
    assert journey_ids == sorted(set(journey_ids))
    assert all(set(j) == {f.name for f in fields(JourneyFacts)} for j in run.journeys)
    assert run.truth["knobs"]["seed"] == 3 and run.truth["knobs"]["start"] == "2026-01-05"
    assert run.truth["period"] == {
        "start": "2026-01-05T00:00:00.000Z",
        "end": "2026-01-06T00:00:00.000Z",
    }


def test_event_times_are_milliseconds_in_utc_or_with_the_mail_gateway_offset(
    small_run: Run,
) -> None:
    begin, end = (parse_rfc3339(small_run.truth["period"][k]) for k in ("start", "end"))
    offsets = set()
    for raw in small_run.lines:
        event = replay.parse(raw)
        if event is None:
            continue
        stamp, at = event["occurred_at"], event["_ms"] / 1000
        assert begin <= at < end, stamp
        if stamp.endswith("Z"):
            assert stamp == format_utc(at)
        else:
            assert stamp == format_utc(at + 3600)[:-1] + "+01:00"
            assert (event["tenant"], event["channel"]) == ("acme-telecom", "email")
        offsets.add(stamp[23:])
    assert offsets == {"Z", "+01:00"}


def test_message_keys_come_from_contact_then_agent_then_event_id() -> None:
    both = {"event_id": "e1", "agent_id": "ag-1", "contact_id": "ct-1"}
    assert message_key(orjson.dumps(both)) == b"ct-1"
    assert message_key(orjson.dumps({"event_id": "e1", "agent_id": "ag-1"})) == b"ag-1"
    assert message_key(orjson.dumps({"event_id": "e1", "contact_id": 42})) == b"e1"
    assert message_key(orjson.dumps({"event_id": ""})) is None
    assert message_key(b"\xff\xfe not json") is None
    assert message_key(b"[1, 2]") is None


class FakeProducer:
    """Records what a KafkaProducer would send."""

    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[str, bytes | None, bytes]] = []
        self.flushed = False
        self.fail = fail

    def send(self, topic: str, value: bytes, key: bytes | None) -> FakeProducer:
        self.sent.append((topic, key, value))
        return self

    def add_errback(self, callback) -> None:
        if self.fail:
            callback(TimeoutError("broker gone"))

    def flush(self) -> None:
        self.flushed = True


def test_produce_sends_every_message_keyed_to_the_raw_events_topic(small_run: Run) -> None:
    settings = keyed_settings()
    client = FakeProducer()
    assert produce(small_run.lines, settings, client=client) == len(small_run.lines)
    assert client.flushed
    assert raw_events_topic(settings) == "omnicx.raw-events"
    assert [value for _, _, value in client.sent] == small_run.lines
    assert {topic for topic, _, _ in client.sent} == {"omnicx.raw-events"}
    keys = [key for _, key, _ in client.sent]
    assert keys == [message_key(value) for value in small_run.lines]
    assert keys.count(None) >= 1 and b"ct-11-20260105-00000001" in keys


def test_produce_raises_when_a_send_fails() -> None:
    with pytest.raises(RuntimeError, match="1 of 1 messages were not sent"):
        produce([b"{}"], keyed_settings(), client=FakeProducer(fail=True))


def test_replaying_the_file_gives_the_messages_of_the_live_run(small_run: Run) -> None:
    from tests.pipelines.conftest import SMALL

    live = list(Simulation(SMALL, keyed_settings()).messages())
    assert list(read_events(small_run.directory / "events.jsonl")) == live


def test_knobs_out_of_range_are_refused() -> None:
    with pytest.raises(ConfigError, match="at least 3 per tenant"):
        SimulationConfig(agents=5, tenants=2)
    with pytest.raises(ConfigError, match=r"within settings\.stream\.lateness_seconds"):
        Simulation(SimulationConfig(faults=FaultRates(max_late_seconds=4000)), keyed_settings())
    simulation = Simulation(TINY, keyed_settings())
    with pytest.raises(RuntimeError, match="once all messages"):
        simulation.ground_truth()


def test_the_cli_writes_a_run_to_files(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["simulate", "--seed", "3", "--agents", "9", "--tenants", "3", "--to", "file"]
    result = CliRunner().invoke(main, [*args, "--out", str(out), "--no-faults"])
    assert result.exit_code == 0, result.output
    truth = orjson.loads((out / "ground_truth.json").read_bytes())
    assert truth["knobs"]["faults"]["duplicates"] == 0.0
    assert truth["faults"]["messages"] == truth["faults"]["events"]
    assert f"sent {truth['faults']['messages']} messages" in result.output
    assert all((out / name).exists() for name in FILES)


def test_the_cli_refuses_contradictory_options(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["simulate", "--to", "file"])
    assert result.exit_code == 2 and "--out" in result.output
    no_faults = ["simulate", "--to", "file", "--out", str(tmp_path), "--no-faults"]
    result = runner.invoke(main, [*no_faults, "--duplicates", "0.1"])
    assert result.exit_code == 2 and "cannot be combined" in result.output


def test_the_cli_sends_to_kafka_through_the_producer(monkeypatch, tmp_path: Path) -> None:
    client = FakeProducer()
    monkeypatch.setattr("pipelines.producer.producer", lambda settings, **_: client)
    closed = []
    client.close = lambda: closed.append(True)  # type: ignore[attr-defined]
    args = ["simulate", "--seed", "3", "--agents", "9", "--tenants", "3", "--to", "kafka"]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path), "--malformed", "0.01"])
    assert result.exit_code == 0, result.output
    truth = orjson.loads((tmp_path / "ground_truth.json").read_bytes())
    assert len(client.sent) == truth["faults"]["messages"] and closed == [True]
    assert truth["faults"]["malformed"] > 0


def test_the_cli_says_when_no_broker_answers(monkeypatch) -> None:
    def unavailable(settings, **_):
        raise KafkaUnavailable("no Kafka broker answers at 127.0.0.1:1 (KafkaTimeoutError)")

    monkeypatch.setattr("pipelines.producer.producer", unavailable)
    result = CliRunner().invoke(main, ["simulate", "--agents", "9", "--to", "kafka"])
    assert result.exit_code == 1
    assert "no Kafka broker answers at 127.0.0.1:1" in result.output
