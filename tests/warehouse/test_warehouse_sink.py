"""The lake sink against the real broker: killed at random points, it still lands every record
exactly once; analysts query while it lands and while the warehouse is rebuilt."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import duckdb
import orjson
import pyarrow.parquet as pq
import pytest

from orchestration.kafka.broker import LocalBroker
from orchestration.kafka.lag import consumer_lag
from pipelines.kafka_io import producer
from schemas.settings import Settings, with_overrides
from schemas.topics import topic_names
from tests.conftest import broker_settings, discard_broker
from tests.harness import REPO, OmnicxProcess, isolated_settings, read_topic, run_omnicx
from warehouse.build import build_warehouse, connect_read_only, lake_view_sql
from warehouse.landing import LakeFile, file_name
from warehouse.sink import LakeSink
from warehouse.tables import EVENTS, LAKE_TABLES, LakeTable

pytestmark = pytest.mark.kafka

EVENT_COUNT = 20_000
CONTACT_COUNT = 2_000  # three versions each
ROUNDS = 5  # sink runs killed with SIGKILL before the last, clean one


def sink_settings(kafka_settings: Settings, home: Path, **warehouse) -> Settings:
    settings = isolated_settings(kafka_settings, home)
    return with_overrides(
        settings, warehouse={"sink_group_id": f"sink-{uuid.uuid4().hex[:8]}", **warehouse}
    )


def messages(seed: int) -> list[tuple[str, bytes, bytes]]:
    """(topic attribute, key, value) of canonical-looking records for every lake table,
    shuffled the way several producers interleave."""
    rng = random.Random(seed)
    out = []
    for n in range(EVENT_COUNT):
        contact_id = f"c{n % CONTACT_COUNT}"
        event = {
            "event_id": f"e{n}",
            "event_type": rng.choice(["contact.queued", "contact.answered", "message.received"]),
            "schema_version": 1,
            # Three business days, interleaved: every batch lands a file in each day.
            "occurred_at": f"2026-01-0{5 + n % 3}T09:00:00.000Z",
            "ts": 1767603600.0 + n,
            "tenant": "acme",
            "channel": "chat",
            "contact_id": contact_id,
            "customer_ids": [f"phone:{n % 997:04x}"],
            "attributes": {"n": n},
        }
        out.append(("events", contact_id.encode(), orjson.dumps(event)))
    for version in (1, 2, 3):
        for n in range(CONTACT_COUNT):
            contact = {"contact_id": f"c{n}", "tenant": "acme", "channel": "chat"}
            record = {**contact, "version": version, "transfers": version - 1}
            if version > 1:  # the first version without a start: it lands on its Kafka day
                record["started_at"] = f"2026-01-0{5 + n % 2}T10:00:00.000Z"
            out.append(("contacts", f"c{n}".encode(), orjson.dumps(record)))
    for n in range(300):
        record = {
            "tenant": "acme",
            "identifier": f"phone:{n:04x}",
            "customer_key": "k",
            "version": 1,
        }
        out.append(("customers", f"acme|phone:{n:04x}".encode(), orjson.dumps(record)))
    for n in range(40):
        record = {
            "dead_letter_id": f"{n:032x}",
            "topic": "raw",
            "partition": 0,
            "offset": n,
            "errors": ["bad"],
            "raw_size": 1,
        }
        out.append(("dead_letters", None, orjson.dumps(record)))
    for n in range(200):
        journey = {"journey_id": f"c{n}", "tenant": "acme", "contact_ids": [f"c{n}"], "version": 1}
        out.append(("journeys", f"c{n}".encode(), orjson.dumps(journey)))
    for n in range(20):
        out.append(
            ("identity_merges", b"acme", orjson.dumps({"action": "merge", "tenant": "acme"}))
        )
        out.append(("alerts", None, orjson.dumps({"alert_id": f"a{n}", "tenant": "acme"})))
        outcome = {"alert_id": f"a{n}", "channel": "email", "status": "delivered"}
        out.append(("alert_deliveries", None, orjson.dumps(outcome)))
    rng.shuffle(out)
    return out


def send(settings: Settings, chunk: list[tuple[str, bytes, bytes]]) -> None:
    names = topic_names(settings)
    client = producer(settings, linger_ms=5)
    try:
        for topic, key, value in chunk:
            client.send(getattr(names, topic), key=key, value=value)
        client.flush()
    finally:
        client.close()


def landed_offsets(lake_dir: Path) -> int:
    """Offsets landed so far, over every table and partition (what the lake's names say)."""
    ends: dict[tuple[str, int], int] = {}
    for table in LAKE_TABLES:
        for path in (lake_dir / table.name).glob("day=*/*.parquet"):
            lake_file = LakeFile.parse(path)
            key = (table.name, lake_file.partition)
            ends[key] = max(ends.get(key, 0), lake_file.last + 1)
    return sum(ends.values())


def wait_for(condition: Callable[[], bool], process: OmnicxProcess, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.process.poll() is not None:
            raise AssertionError(f"the sink exited:\n{process.log_tail()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"the sink made no progress in time:\n{process.log_tail()}")
        time.sleep(0.05)


def lake_rows(lake_dir: Path, table: LakeTable) -> list[dict]:
    """Every row of every Parquet file of a table: what a reader globbing *.parquet gets. A
    file the running sink quarantined or compacted away after the glob is skipped (once the
    sink stopped, nothing moves)."""
    rows = []
    for path in sorted((lake_dir / table.name).glob("day=*/*.parquet")):
        try:
            rows += pq.read_table(path).to_pylist()
        except FileNotFoundError:
            continue
    return rows


def assert_readers_see_whole_files(settings: Settings) -> None:
    """Every visible file opens, and the lake views show each Kafka record once."""
    for path in settings.lake_dir.glob("*/day=*/*.parquet"):
        assert pq.read_metadata(path).num_rows > 0
    with duckdb.connect() as con:
        for table in LAKE_TABLES:
            con.execute(lake_view_sql(table, settings.lake_dir))
            total, distinct = con.execute(
                f"select count(*), count(distinct (_kafka_partition, _kafka_offset)) "
                f"from lake_{table.name}"
            ).fetchone()
            assert total == distinct


def test_a_sink_killed_at_random_points_lands_every_record_exactly_once(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    settings = sink_settings(
        kafka_settings,
        tmp_path / "home",
        sink_batch_rows=700,
        sink_batch_seconds=0.3,
        compact_min_files=4,
        compact_target_rows=6000,
        compact_grace_seconds=0.0,
    )
    rng = random.Random(11)
    produced = messages(seed=3)
    # Two chunks sent during each killed run, one during the last run.
    chunks = [produced[i :: ROUNDS * 2 + 1] for i in range(ROUNDS * 2 + 1)]
    sent = 0
    for round_number in range(ROUNDS):
        sink = OmnicxProcess(
            settings, "sink", "--instance-id", "sink-1", log_name=f"sink-{round_number}"
        )
        try:
            for chunk in chunks[2 * round_number : 2 * round_number + 2]:
                send(settings, chunk)  # data keeps flowing while the sink lands
                sent += len(chunk)
                start = landed_offsets(settings.lake_dir)
                step = rng.randrange(200, 4000)
                wait_for(
                    lambda start=start, step=step, sent=sent: (
                        landed_offsets(settings.lake_dir) >= min(start + step, sent)
                    ),
                    sink,
                )
        finally:
            sink.kill9()
        assert_readers_see_whole_files(settings)

    topics = [t.topic_name(settings) for t in LAKE_TABLES]
    group = settings.warehouse.sink_group_id
    last = OmnicxProcess(settings, "sink", "--instance-id", "sink-1", log_name="sink-last")
    try:
        send(settings, chunks[-1])
        wait_for(lambda: landed_offsets(settings.lake_dir) == len(produced), last)
        # Every offset committed too, which the sink does only once it is in the lake.
        wait_for(lambda: not any(consumer_lag(settings, group, topics).values()), last)
    finally:
        last.stop()
    assert last.process.returncode == 0, last.log_tail()

    assert landed_offsets(settings.lake_dir) == len(produced)
    assert list(settings.lake_dir.rglob("*.tmp")) == []
    for table in LAKE_TABLES:
        in_kafka = {
            (m.partition, m.offset): orjson.loads(m.value)
            for m in read_topic(settings, table.topic_name(settings))
        }
        rows = lake_rows(settings.lake_dir, table)
        coordinates = Counter((r["_kafka_partition"], r["_kafka_offset"]) for r in rows)
        assert coordinates.most_common(1)[0][1] == 1, f"{table.name}: a row landed twice"
        assert set(coordinates) == set(in_kafka), f"{table.name}: rows lost"
        key = table.columns[0][0]
        for row in rows:
            assert row[key] == in_kafka[(row["_kafka_partition"], row["_kafka_offset"])][key]
    assert sum(len(lake_rows(settings.lake_dir, t)) for t in LAKE_TABLES) == len(produced)


def test_analysts_query_while_the_sink_lands_and_the_warehouse_is_rebuilt(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    settings = sink_settings(
        kafka_settings,
        home,
        sink_batch_rows=500,
        sink_batch_seconds=0.2,
        compact_min_files=3,
        compact_target_rows=4000,
    )
    events = [m for m in messages(seed=5) if m[0] == "events"][:8000]
    errors: list[BaseException] = []
    builds = 0
    stop = threading.Event()

    def marts(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("create or replace table mart_events as select count(*) as n from int_events")

    def rebuild() -> None:
        nonlocal builds
        try:
            while not stop.is_set():
                build_warehouse(settings, marts=marts)
                builds += 1
        except BaseException as exc:
            errors.append(exc)

    build_warehouse(settings, marts=marts)
    builder = threading.Thread(target=rebuild)
    session = subprocess.Popen(
        [sys.executable, "-m", "orchestration", "--home", str(home), "sql", "--format", "json"],
        cwd=REPO,
        env={**os.environ, "OMNICX_HOME": str(home)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    sink = OmnicxProcess(settings, "sink", "--instance-id", "sink-2", log_name="sink")
    builder.start()
    seen: list[int] = []
    materialised: list[int] = []
    try:
        for chunk in (events[:3000], events[3000:]):
            send(settings, chunk)
        deadline = time.monotonic() + 120
        while not seen or seen[-1] < len(events) or builds < 3:
            assert time.monotonic() < deadline, sink.log_tail()
            with connect_read_only(settings) as con:  # in this process, beside the builder
                total, distinct = con.execute(
                    "select count(*), count(distinct event_id) from stg_events"
                ).fetchone()
                (mart,) = con.execute("select n from mart_events").fetchone()
            assert total == distinct <= len(events)
            assert mart <= len(events)
            # Another process: the analysts' interactive session.
            session.stdin.write("select count(*) as n from int_events;\n")
            session.stdin.flush()
            answer = session.stdout.readline()
            assert answer.startswith("["), answer  # a JSON answer, not an error line
            (row,) = orjson.loads(answer)
            # int_events is materialised by the builds (as of the last one), stg_events live.
            assert row["n"] <= len(events)
            seen.append(total)
            materialised.append(row["n"])
    finally:
        stop.set()
        builder.join()
        sink.stop()
        session.stdin.close()
        session.wait(timeout=30)
    assert errors == []
    assert seen == sorted(seen)  # counts only grow
    assert materialised == sorted(materialised)
    assert seen[-1] == len(events)
    build_warehouse(settings, marts=marts)  # every event landed: the next build shows them all
    with connect_read_only(settings) as con:
        assert con.execute("select count(*) from int_events").fetchone() == (len(events),)
        assert con.execute("select n from mart_events").fetchone() == (len(events),)
    # Compactions ran meanwhile, and their parts were still there beside the merged files:
    # the counts above never saw a row twice all the same.
    files = [LakeFile.parse(p) for p in (settings.lake_dir / "events").glob("day=*/*.parquet")]
    assert any(f.covers(g) for f in files for g in files)


def test_the_sink_resumes_after_what_the_lake_holds_whatever_was_committed(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    settings = sink_settings(
        kafka_settings, tmp_path / "home", sink_batch_rows=50, sink_batch_seconds=0.1
    )
    events = [m for m in messages(seed=9) if m[0] == "events"][:400]
    send(settings, events)
    in_kafka = read_topic(settings, topic_names(settings).events)
    first = LakeSink(settings, instance_id="resume")
    first.run(lambda: first.rows_landed >= 100)
    # A sink of another group (nothing committed there; the group would start at the
    # beginning) on the same lake: the lake's manifest, not the group, says where to go on.
    other_group = with_overrides(settings, warehouse={"sink_group_id": f"other-{uuid.uuid4()}"})
    second = LakeSink(other_group, instance_id="resume")
    second.run(lambda: landed_offsets(settings.lake_dir) == len(events))

    assert 100 <= first.rows_landed < len(events)
    assert second.rows_landed == len(events) - first.rows_landed
    rows = lake_rows(settings.lake_dir, EVENTS)
    coordinates = [(r["_kafka_partition"], r["_kafka_offset"]) for r in rows]
    assert sorted(coordinates) == sorted((m.partition, m.offset) for m in in_kafka)


def lake_coordinates(settings: Settings, table: LakeTable = EVENTS) -> Counter:
    """How often each (partition, offset) appears in the table's visible files."""
    return Counter(
        (r["_kafka_partition"], r["_kafka_offset"]) for r in lake_rows(settings.lake_dir, table)
    )


def kafka_coordinates(settings: Settings, table: LakeTable = EVENTS) -> set[tuple[int, int]]:
    return {(m.partition, m.offset) for m in read_topic(settings, table.topic_name(settings))}


def wait_until_landed_and_committed(
    settings: Settings, sink: OmnicxProcess, expected: int, timeout: float = 180
) -> None:
    """Every one of ``expected`` events in the lake once, and the group's lag 0."""
    topics = [t.topic_name(settings) for t in LAKE_TABLES]
    group = settings.warehouse.sink_group_id
    wait_for(lambda: sum(lake_coordinates(settings).values()) >= expected, sink, timeout)
    wait_for(lambda: not any(consumer_lag(settings, group, topics).values()), sink, timeout)


def test_nothing_an_analyst_runs_makes_the_sink_lose_or_destroy_rows(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    settings = sink_settings(kafka_settings, home, sink_batch_rows=500, sink_batch_seconds=0.2)
    events = [m for m in messages(seed=13) if m[0] == "events"][:6000]
    send(settings, events[:3000])
    first = OmnicxProcess(settings, "sink", "--progress", log_name="sink-first")
    try:
        wait_until_landed_and_committed(settings, first, 3000)
    finally:
        first.stop()
    # its progress, drawn as on a terminal: the last frame has every row landed, no lag
    screen = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", first.log_path.read_text())
    last_frame = screen[screen.rindex("landing: ") :]
    assert re.match(r"landing: \d+ files, lag 0 .* 3000/3000 .* rows/s", last_frame), last_frame
    build_warehouse(settings)
    lake = settings.lake_dir.resolve()
    today = time.strftime("%Y-%m-%d", time.gmtime())
    forged = lake / "events" / f"day={today}" / file_name(0, 0, 999_999_999)
    before = sorted(settings.lake_dir.rglob("*"))

    attempts = [
        f"copy (select * from lake_events where false) to '{forged}' (format parquet)",
        "select * from read_csv('/etc/passwd')",
        f"attach '{tmp_path / 'other.duckdb'}' as other",
        "pragma database_list",
    ]
    answers = [run_omnicx(settings, "sql", attempt) for attempt in attempts]

    for attempt, answer in zip(attempts, answers, strict=True):
        assert answer.returncode == 1, (attempt, answer.stdout)
        assert answer.stderr.startswith("error: "), (attempt, answer.stderr)
        assert "Traceback" not in answer.stderr
    assert sorted(settings.lake_dir.rglob("*")) == before
    assert not (tmp_path / "other.duckdb").exists()

    # Had the file got there some other way, the sink would refuse it all the same.
    forged.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as con:
        con.execute(
            f"copy (select * from read_parquet('{lake}/events/*/*.parquet') where false) "
            f"to '{forged}' (format parquet)"
        )
    send(settings, events[3000:])
    second = OmnicxProcess(settings, "sink", log_name="sink-second")
    try:
        wait_until_landed_and_committed(settings, second, len(events))
    finally:
        second.stop()

    assert second.process.returncode == 0, second.log_tail()
    coordinates = lake_coordinates(settings)
    assert set(coordinates) == kafka_coordinates(settings)
    assert max(coordinates.values()) == 1
    assert not forged.exists()
    quarantine = settings.lake_dir / "_sink" / "quarantine" / "events" / f"day={today}"
    assert [p.name for p in quarantine.iterdir()] == [forged.name]
    assert "quarantined 1 files the sink did not write" in second.log_path.read_text()


def test_the_sink_commits_what_it_landed_during_a_broker_outage(tmp_path: Path) -> None:
    broker_home = tmp_path / "broker"
    own_broker = broker_settings(broker_home)
    broker = LocalBroker(own_broker)
    broker.start()
    try:
        settings = sink_settings(own_broker, tmp_path / "home", sink_batch_seconds=5.0)
        events = [m for m in messages(seed=17) if m[0] == "events"][:1000]
        sink = OmnicxProcess(settings, "sink", "--instance-id", "outage", log_name="sink")
        try:
            send(settings, events[:500])
            wait_until_landed_and_committed(settings, sink, 500)
            send(settings, events[500:])
            # The sink holds (most of) the second half in its batches; the broker dies.
            os.kill(broker.status().pid, signal.SIGKILL)
            # It lands them while the broker is away, so their commit fails ...
            wait_for(lambda: sum(lake_coordinates(settings).values()) > 500, sink)
            broker.start()
            # ... and is made once the broker is back.
            wait_until_landed_and_committed(settings, sink, len(events))
        finally:
            sink.stop()
        assert sink.process.returncode == 0, sink.log_tail()
        assert "commit failed" in sink.log_path.read_text()
        assert set(lake_coordinates(settings)) == kafka_coordinates(settings)
    finally:
        discard_broker(broker)


def test_a_second_sink_with_an_instance_id_in_use_is_refused(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    settings = sink_settings(kafka_settings, home, sink_batch_seconds=0.2)
    send(settings, [m for m in messages(seed=19) if m[0] == "events"][:200])
    first = OmnicxProcess(settings, "sink", "--instance-id", "twin", log_name="sink-first")
    try:
        wait_until_landed_and_committed(settings, first, 200)
        second = run_omnicx(settings, "sink", "--instance-id", "twin")
        assert first.process.poll() is None  # the first one keeps its partitions
    finally:
        first.stop()

    assert second.returncode == 1
    (line,) = second.stderr.splitlines()
    assert line.startswith("error: another sink of group")
    assert "instance id 'twin'" in line
    assert first.process.returncode == 0, first.log_tail()


def test_a_lake_of_the_old_layout_is_refused_then_rebuilt_from_kafka(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    settings = sink_settings(kafka_settings, tmp_path / "home", sink_batch_seconds=0.2)
    events = [m for m in messages(seed=23) if m[0] == "events"][:600]
    send(settings, events)
    first = OmnicxProcess(settings, "sink", "--instance-id", "layout", log_name="sink-first")
    try:
        wait_until_landed_and_committed(settings, first, len(events))
    finally:
        first.stop()
    # What a sink of layout 1 left: the same manifests and files, no layout marker.
    (settings.lake_dir / "_sink" / "layout").unlink()

    refused = run_omnicx(settings, "sink", "--instance-id", "layout")
    rebuilt = OmnicxProcess(
        settings, "sink", "--rebuild", "--instance-id", "layout", log_name="sink-rebuilt"
    )
    old_lakes = settings.lake_dir.parent.glob
    try:
        # The old lake is moved aside first: until then, the lake still shows its rows.
        wait_for(lambda: any(old_lakes(f"{settings.lake_dir.name}.layout1-*")), rebuilt)
        wait_until_landed_and_committed(settings, rebuilt, len(events))
    finally:
        rebuilt.stop()

    assert refused.returncode == 1
    (line,) = refused.stderr.splitlines()
    assert line.startswith("error: the lake at") and "omnicx sink --rebuild" in line
    assert rebuilt.process.returncode == 0, rebuilt.log_tail()
    coordinates = lake_coordinates(settings)
    assert set(coordinates) == kafka_coordinates(settings)
    assert max(coordinates.values()) == 1
    (moved,) = old_lakes(f"{settings.lake_dir.name}.layout1-*")
    assert len(lake_rows(moved, EVENTS)) == len(events)  # the old lake, kept whole
    assert (settings.lake_dir / "_sink" / "layout").read_text() == "2\n"
