"""``omnicx replay-dead-letters`` on the real broker: chosen over the analysts' redacted dead
letters, bytes from the operators' topic (or the raw topic for a message too large to keep),
each sent once per run with its dead-letter id and keyed as producers key raw events."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from orchestration.commands.replay import replay_dead_letters
from pipelines.kafka_io import producer
from schemas.settings import Settings, with_overrides
from schemas.topics import topic_names
from streams.dead_letters import DEAD_LETTER_ID_HEADER, dead_letter_records
from tests.harness import isolated_settings, read_topic
from tests.warehouse.lakes import land
from warehouse.build import build_warehouse
from warehouse.tables import DEAD_LETTERS

pytestmark = pytest.mark.kafka


def test_dead_letters_are_replayed_with_their_original_bytes_keys_and_ids(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    settings = isolated_settings(kafka_settings, tmp_path)
    settings = with_overrides(settings, stream={"max_message_bytes": 100})
    names = topic_names(settings)
    rejected = [
        b'{"event_id": "e1", "contact_id": "c1", "occurred_at": "yesterday"}',
        b"\xff\xfe not JSON",
        b'{"event_id": "e3", "agent_id": "a9", "event_type": "agent.mood"}',
        b'{"event_id": "e4", "contact_id": "c4", "pad": "' + b"x" * 200 + b'"}',  # too large
        None,  # a tombstone
    ]
    client = producer(settings)
    try:
        # The oversized message is only in the raw topic: where the replay must find it.
        source = client.send(names.raw_events, key=b"c4", value=rejected[3]).get(timeout=30)
        offsets = [10, 11, 12, source.offset, 14]
        partitions = [1, 1, 1, source.partition, 1]
        records = [
            dead_letter_records(
                raw, ["a problem"], names.raw_events, partition, offset, max_stored_bytes=100
            )
            for raw, partition, offset in zip(rejected, partitions, offsets, strict=True)
        ]
        for dead in records:
            client.send(names.dead_letters_raw, value=orjson.dumps(dead.operator))
        client.flush()
    finally:
        client.close()
    assert records[3].operator["raw_base64"] is None
    # The stream published the first one twice (a batch replayed after a crash).
    land(settings, DEAD_LETTERS, [records[0].analyst, *(d.analyst for d in records)])
    build_warehouse(settings)
    only_bad_times = "array_to_string(errors, ' ') like '%problem%' and event_id in ('e1', 'e3')"

    def run(*args: str) -> str:
        result = CliRunner().invoke(
            replay_dead_letters, [*args, "--wait-seconds", "0"], obj=settings
        )
        assert result.exit_code == 0, result.output
        return result.output

    dry = run("--dry-run")
    chosen = run("--where", only_bad_times)
    every = run()

    assert dry == (
        "1 tombstones have nothing to re-publish; the bytes of 0 dead letters are gone (past the "
        f"retention of {names.dead_letters_raw} and {names.raw_events})\n"
        f"4 dead letters would be re-published to {names.raw_events}\n"
    )
    assert chosen == f"re-published 2 dead letters to {names.raw_events}\n"
    assert every.endswith(f"re-published 4 dead letters to {names.raw_events}\n")
    replayed = [
        (m.key, m.value, dict(m.headers)[DEAD_LETTER_ID_HEADER].decode())
        for m in read_topic(settings, names.raw_events)
        if m.headers
    ]
    ids = [dead.analyst["dead_letter_id"] for dead in records]
    # Keyed as producers key raw events: contact_id, else agent_id, else none.
    assert Counter(replayed) == {
        (b"c1", rejected[0], ids[0]): 2,
        (b"a9", rejected[2], ids[2]): 2,
        (None, rejected[1], ids[1]): 1,
        (b"c4", rejected[3], ids[3]): 1,
    }
    assert len({uuid.UUID(i) for i in ids}) == 5
