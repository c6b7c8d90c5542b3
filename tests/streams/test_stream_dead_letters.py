"""Issue 10 on the real broker: every input ends as a processed event or a dead letter, dead
letters are redacted for analysts, a far-future event leaves the clock alone, and replaying
unfixed dead letters twice leaves one dead letter per message.

Each test runs a real ``omnicx stream`` worker (and the lake sink where the warehouse is read).
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import duckdb
import orjson
import pytest

from orchestration.kafka.lag import wait_until_caught_up
from pipelines.kafka_io import producer
from schemas.settings import Settings, with_overrides
from schemas.settings_env import settings_env
from schemas.topics import topic_names
from tests.harness import (
    REPO,
    OmnicxProcess,
    isolated_settings,
    latest_versions,
    read_topic,
    stream_worker,
    wait_for_stream,
)
from warehouse.build import build_warehouse, connect_read_only
from warehouse.tables import LAKE_TABLES

pytestmark = pytest.mark.kafka

PHONE, EMAIL, HANDLE = "+33 6 12 34 56 78", "ada.lovelace@example.org", "@ada_l"
VISITOR, CUSTOMER_ID = "visitor-7f3e9a", "CUST-884411"
TEXT = "I will cancel unless you call me back today"
PERSONAL = (PHONE, EMAIL, HANDLE, VISITOR, CUSTOMER_ID, TEXT, "cancel unless", "33612345678")
CUSTOMER = {
    "phone": PHONE,
    "email": EMAIL,
    "social_handle": HANDLE,
    "chat_visitor_id": VISITOR,
    "customer_id": CUSTOMER_ID,
}


def event(event_type: str, contact_id: str, minute: int, **fields) -> dict:
    base = {
        "event_id": f"{contact_id}-{event_type}",
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": f"2026-01-05T09:{minute:02d}:00Z",
        "tenant": "acme",
        "channel": "voice",
        "contact_id": contact_id,
    }
    return {**base, **fields}


def contact(contact_id: str, minute: int = 0) -> list[dict]:
    """A handled inbound call, start to wrap-up."""
    return [
        event("contact.started", contact_id, minute, direction="inbound", customer=CUSTOMER),
        event("contact.queued", contact_id, minute + 1, queue="billing"),
        event("contact.answered", contact_id, minute + 2, agent_id="a1"),
        event("contact.ended", contact_id, minute + 5),
        event("contact.wrapped_up", contact_id, minute + 6, attributes={"disposition": "resolved"}),
    ]


def send(settings: Settings, messages: list[tuple[bytes, bytes | None]]) -> None:
    """Raw (key, value) messages in order; a value of None is a tombstone."""
    client = producer(settings, max_request_size=2 * 1024 * 1024, enable_idempotence=True)
    try:
        topic = topic_names(settings).raw_events
        for key, value in messages:
            client.send(topic, key=key, value=value).get(timeout=30)
    finally:
        client.close()


def keyed(e: dict) -> tuple[bytes, bytes]:
    return e["contact_id"].encode(), orjson.dumps(e)


def decoded(settings: Settings, topic: str) -> list[dict]:
    return [orjson.loads(m.value) for m in read_topic(settings, topic)]


@pytest.fixture
def settings(kafka_settings: Settings, tmp_path: Path) -> Settings:
    settings = isolated_settings(kafka_settings, tmp_path)
    return with_overrides(
        settings,
        warehouse={"sink_group_id": f"{settings.stream.app_id}-sink", "sink_batch_seconds": 0.2},
    )


def test_crash_loop_messages_are_dead_letters_and_the_partition_keeps_flowing(
    settings: Settings,
) -> None:
    """Defect 2: a tombstone, a valid event nested 300 levels deep, an invalid 900 KB message
    and a valid event of 1,048,461 bytes used to crash the worker at each start."""
    first, *rest = contact("c1")
    deep = event("contact.queued", "c1", 1, queue="billing", event_id="deep")
    deep_raw = orjson.dumps(deep)[:-1] + b',"attributes":' + b'{"a":' * 300 + b"1" + b"}" * 301
    invalid = b'{"event_id": "big", "text": "' + b"x" * 900_000  # never closed
    big = event("contact.queued", "c1", 1, queue="billing", event_id="big-valid")
    big["attributes"] = {"note": ""}
    padding = 1_048_461 - len(orjson.dumps(big))
    big["attributes"]["note"] = "n" * padding
    big_raw = orjson.dumps(big)
    assert len(big_raw) == 1_048_461
    poison = [(b"c1", None), (b"c1", deep_raw), (b"c1", invalid), (b"c1", big_raw)]
    send(settings, [keyed(first), *poison, *(keyed(e) for e in rest)])

    names = topic_names(settings)
    with stream_worker(settings) as worker:
        wait_for_stream(settings, [worker])
        later = contact("c2", minute=10)
        send(settings, [keyed(e) for e in later])
        wait_for_stream(settings, [worker])
        assert worker.process.poll() is None, worker.log_tail()

    dead = decoded(settings, names.dead_letters)
    assert [d["offset"] for d in dead if d["partition"] == dead[0]["partition"]] == [1, 2, 3, 4]
    assert [d["errors"][0] for d in dead] == [
        "$: expected a JSON document, got a tombstone",
        "$: expected at most 32 levels of nesting (stream.max_nesting_depth), got deeper nesting",
        f"$: expected at most 524288 bytes (stream.max_message_bytes), got {len(invalid)} bytes",
        "$: expected at most 524288 bytes (stream.max_message_bytes), got 1048461 bytes",
    ]
    stored = decoded(settings, names.dead_letters_raw)
    assert [d["dead_letter_id"] for d in stored] == [d["dead_letter_id"] for d in dead]
    assert base64.b64decode(stored[1]["raw_base64"]) == deep_raw
    assert stored[0]["tombstone"] and stored[2]["raw_base64"] is stored[3]["raw_base64"] is None
    assert stored[3]["raw_sha256"] == dead[3]["raw_sha256"]

    # Every valid event, the later ones too, exactly once: nothing was published twice.
    published = Counter(e["event_id"] for e in decoded(settings, names.events))
    assert published == Counter(e["event_id"] for e in [first, *rest, *later])
    contacts = latest_versions(settings, names.contacts, "contact_id")
    assert {cid: c["status"] for cid, c in contacts.items()} == {"c1": "closed", "c2": "closed"}


def test_a_far_future_event_is_a_dead_letter_and_leaves_the_clock_alone(
    settings: Settings,
) -> None:
    """Defect 5: one event dated 9999-12-31 moved its partition's clock there, and every open
    contact of the partition timed out as incomplete at once."""
    opened = event("contact.started", "c9", 0, direction="inbound", customer=CUSTOMER)
    poison = event("contact.queued", "c9", 1, queue="billing", event_id="poison")
    poison["occurred_at"] = "9999-12-31T00:00:00Z"
    after = contact("c8", minute=2)  # another contact, closed normally
    send(settings, [keyed(opened), keyed(poison), *(keyed(e) for e in after)])
    names = topic_names(settings)
    with stream_worker(settings) as worker:
        wait_for_stream(settings, [worker])

    [dead] = decoded(settings, names.dead_letters)
    assert (dead["event_id"], dead["contact_id"]) == ("poison", "c9")
    assert dead["errors"] == [
        "occurred_at: 9999-12-31T00:00:00.000Z is more than 86400 s "
        "(stream.max_future_seconds) ahead of when the broker received the message"
    ]
    # c9 is still open (no record): a clock at 9999 would have timed it out as incomplete.
    contacts = latest_versions(settings, names.contacts, "contact_id")
    assert {cid: c["status"] for cid, c in contacts.items()} == {"c8": "closed"}
    assert "poison" not in {e["event_id"] for e in decoded(settings, names.events)}


@pytest.fixture
def sink(settings: Settings) -> Iterator[OmnicxProcess]:
    process = OmnicxProcess(settings, "sink", "--instance-id", "dl", log_name="sink")
    try:
        yield process
    finally:
        process.stop()


def land(settings: Settings, sink: OmnicxProcess) -> None:
    topics = [table.topic_name(settings) for table in LAKE_TABLES]
    lag = wait_until_caught_up(settings, settings.warehouse.sink_group_id, topics, 300)
    assert not any(lag.values()), f"sink did not catch up: {lag}\n{sink.log_tail()}"
    build_warehouse(settings)


def replay(settings: Settings) -> str:
    command = [sys.executable, "-m", "orchestration", "--home", str(settings.home)]
    done = subprocess.run(
        [*command, "replay-dead-letters", "--wait-seconds", "300"],
        cwd=REPO,
        env={**os.environ, **settings_env(settings)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_replaying_twice_leaves_one_redacted_dead_letter_per_unfixed_message(
    settings: Settings, sink: OmnicxProcess
) -> None:
    """Defects 8 and 4: each replay of unfixed dead letters added them again (8,090 -> 16,180
    -> 32,360), and the analysts' tables held the raw personal data of the rejected messages."""
    bad_phone = event("contact.started", "c5", 0, direction="inbound", customer=CUSTOMER)
    bad_phone["customer"] = {**CUSTOMER, "phone": 33612345678}
    chat = event("message.received", "c6", 1, channel="chat", customer=CUSTOMER)
    chat["attributes"] = {"text": TEXT, "author": "robot"}  # author is not in its enum
    cut = orjson.dumps(event("message.sent", "c7", 2, attributes={"text": TEXT}))[:-20]
    rejected = [keyed(bad_phone), keyed(chat), (b"c7", cut), (b"c7", b"")]
    valid = contact("c1")
    send(settings, [*rejected, *(keyed(e) for e in valid)])

    with stream_worker(settings) as worker:
        wait_for_stream(settings, [worker])
        land(settings, sink)
        first = replay(settings)
        land(settings, sink)
        second = replay(settings)
        land(settings, sink)
        wait_for_stream(settings, [worker])

    for report in (first, second):
        assert "re-published 4 dead letters" in report
        assert "0 became events" in report and "4 failed again" in report
    with connect_read_only(settings) as con:
        (rows,) = con.execute("select count(*) from stg_dead_letters").fetchone()
        per_message = Counter(
            con.execute("select event_id, rejections from int_dead_letters").fetchall()
        )
        analyst_text = [
            str(row)
            for view in ("stg_dead_letters", "int_dead_letters")
            for row in con.execute(f"select * from {view}").fetchall()
        ]
        (events,) = con.execute("select count(*) from int_events").fetchone()
    assert rows == 12  # every rejection is a record ...
    assert per_message == Counter(  # ... of one dead letter per message, rejected 3 times
        [("c5-contact.started", 3), ("c6-message.received", 3), (None, 3), (None, 3)]
    )
    assert events == len(valid)
    for text in analyst_text:
        for value in PERSONAL:
            assert value not in text
    # Nor in any file of the lake, whatever an analyst reads it with.
    lake_files = [str(p) for p in settings.lake_dir.rglob("*.parquet")]
    assert lake_files
    dump = duckdb.sql(
        f"select * from read_parquet({lake_files!r}, union_by_name = true, filename = true)"
    ).fetchall()
    lake_text = " ".join(str(row) for row in dump)
    for value in PERSONAL:
        assert value not in lake_text
    # The operators keep every byte, for the next replay.
    stored = decoded(settings, topic_names(settings).dead_letters_raw)
    assert {base64.b64decode(d["raw_base64"]) for d in stored} == {v for _, v in rejected}
