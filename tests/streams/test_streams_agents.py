"""The Faust wiring (``streams.agents``), without a broker: the app runs with in-memory tables
and every message it would produce (output topics and table changelogs) is recorded.

The ingest batch agent is called with hand-made fetches (``run_ingest``). The customers agent
reads an in-memory channel through its ``test_context`` and batches with ``take_events``: the
batch size is set to the number of messages a test puts per batch and the batch timeout to an
hour, so a batch is flushed exactly when it is full, never by the clock. ``take_events``
acknowledges a batch's events only when the agent asks for the next batch, after its body has
produced everything, so waiting for those acknowledgements (a sensor counts them) is waiting for
the batch to be processed.
"""

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from faust.sensors import Sensor
from faust.types import TP
from faust.types import Message as FaustMessage

from schemas.identifiers import hashed_identifiers
from schemas.settings import with_overrides
from schemas.times import format_utc, parse_rfc3339
from schemas.topics import topic_names
from streams.agents import CUSTOMER_BATCH_MESSAGES
from streams.app import create_app
from streams.metrics import StreamMetrics
from tests.pii import keyed_settings

T0 = parse_rfc3339("2026-01-05T09:00:00Z")
SETTINGS = keyed_settings()
NAMES = topic_names(SETTINGS)
CUSTOMER = {"phone": "06 12 34 56 78", "email": "ada@example.org"}
HASHES = hashed_identifiers(CUSTOMER, SETTINGS.pii_key)
# Generous: only reached when the agent is stuck, which fails the test instead of hanging it.
STUCK_SECONDS = 30


def event(event_id, event_type, at, contact_id, channel="voice", **fields) -> bytes:
    """A raw event of the contract ``at`` seconds after T0."""
    return orjson.dumps(
        {
            "event_id": event_id,
            "event_type": event_type,
            "schema_version": 1,
            "occurred_at": format_utc(T0 + at),
            "tenant": "acme",
            "channel": channel,
            "contact_id": contact_id,
            **fields,
        }
    )


def call(c, at, customer=CUSTOMER, channel="voice") -> list[bytes]:
    """The raw events of a handled inbound contact ``c``, in order; ids ``<c>-1`` to ``<c>-5``."""
    resolved = {"disposition": "resolved"}
    return [
        event(f"{c}-1", "contact.started", at, c, channel, direction="inbound", customer=customer),
        event(f"{c}-2", "contact.queued", at + 5, c, channel, queue="billing"),
        event(f"{c}-3", "contact.answered", at + 20, c, channel, agent_id="a1"),
        event(f"{c}-4", "contact.ended", at + 200, c, channel),
        event(f"{c}-5", "contact.wrapped_up", at + 230, c, channel, attributes=resolved),
    ]


Message = tuple[bytes | None, bytes, int]  # key, value, partition


@dataclass(frozen=True)
class Produced:
    topic: str
    key: bytes | None
    value: bytes
    partition: int | None


class Acknowledged(Sensor):
    """Counts the events the agents' streams acknowledged; wakes waiters on each."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.changed = asyncio.Event()
        self.crash: BaseException | None = None

    def on_stream_event_out(self, tp, offset, stream, event, state=None) -> None:
        self.count += 1
        self.changed.set()

    async def on_agent_error(self, agent, exc: BaseException) -> None:
        self.crash = exc
        self.changed.set()

    async def reach(self, count: int) -> None:
        while self.count < count and self.crash is None:
            self.changed.clear()
            await self.changed.wait()
        if self.crash is not None:
            raise AssertionError(f"the agent crashed: {self.crash!r}") from self.crash


@dataclass
class RecordedOutputs:
    """The agents' output sender, recording instead of producing (changelogs still go through
    the app's producer, caught by the harness)."""

    produced: list[Produced]

    async def send(self, outputs: dict[str, list[tuple[bytes | None, bytes]]]) -> None:
        for topic, messages in outputs.items():
            self.produced += [Produced(topic, key, value, None) for key, value in messages]

    async def send_to_partitions(
        self, records: dict[tuple[str, int], list[tuple[bytes, bytes | None]]]
    ) -> dict[tuple[str, int], int]:
        for (topic, partition), messages in records.items():
            self.produced += [Produced(topic, k, v, partition) for k, v in messages]
        return {tp: len(messages) - 1 for tp, messages in records.items()}

    async def stop(self) -> None:
        pass


@dataclass
class Harness:
    """One app with in-memory tables, its produced messages, and what its agents acknowledged."""

    app: Any
    assigned: set[TP] = field(default_factory=set)
    produced: list[Produced] = field(default_factory=list)
    acknowledged: Acknowledged = field(default_factory=Acknowledged)
    metrics: StreamMetrics = field(default_factory=StreamMetrics)

    def __post_init__(self) -> None:
        self.app.producer.send_soon = self._catch
        self.app.sensors.add(self.acknowledged)

    def _catch(self, future) -> None:
        pending = future.message
        self.produced.append(
            Produced(
                pending.channel.get_topic_name(), pending.key, pending.value, pending.partition
            )
        )

    async def hold(self, *partitions: int) -> None:
        """Hold these raw partitions from now on; losing one is signalled as a rebalance does."""
        held = {TP(NAMES.raw_events, p) for p in partitions}
        lost = self.assigned - held
        if lost:
            await self.app.on_partitions_revoked.send(lost)
        self.assigned = held

    async def put_batch(self, agent, messages: list[Message]) -> None:
        """Put one full batch and wait until the agent has processed it."""
        target = self.acknowledged.count + len(messages)
        for key, value, partition in messages:
            await agent.put(value, key=key, partition=partition)
        await asyncio.wait_for(self.acknowledged.reach(target), STUCK_SECONDS)

    def on(self, topic: str) -> list[tuple[bytes | None, Any]]:
        return [(p.key, orjson.loads(p.value)) for p in self.produced if p.topic == topic]

    def changelog(self, table: str) -> list[tuple[str, int | None]]:
        topic = f"{self.app.conf.id}-{table}-changelog"
        return [(p.key.decode(), p.partition) for p in self.produced if p.topic == topic]


@pytest.fixture
def harness(tmp_path):
    def make(batch_size: int = 1, store: str = "memory://") -> Harness:
        """``batch_size``: the customers agent's take size; ``store``: the tables' local store
        (RocksDB files reads and writes by partition, the memory store does not)."""
        settings = with_overrides(
            with_overrides(SETTINGS, home=tmp_path),
            stream={"batch_size": batch_size, "batch_seconds": 3600},
        )
        produced: list[Produced] = []
        metrics = StreamMetrics()
        app = create_app(settings, store=store, outputs=RecordedOutputs(produced), metrics=metrics)
        made = Harness(app, produced=produced, metrics=metrics)
        made.assigned = {TP(NAMES.raw_events, p) for p in range(settings.topics.partitions)}
        return made

    return make


async def run_ingest(
    h: Harness, batches: list[list[Message]], holding: list[tuple[int, ...]] | None = None
) -> None:
    """Hand the batches to the ingest batch agent as fetches of the raw topic, one after the
    other, numbering offsets per partition from 0; ``holding[i]`` is the raw partitions the
    worker holds when batch ``i`` starts (all of them by default)."""
    ingest = h.app.batch_handlers[NAMES.raw_events]
    next_offset: dict[TP, int] = defaultdict(int)
    for i, messages in enumerate(batches):
        if holding is not None:
            await h.hold(*holding[i])
        fetch: dict[TP, list[FaustMessage]] = defaultdict(list)
        for key, value, partition in messages:
            tp = TP(NAMES.raw_events, partition)
            offset = next_offset[tp]
            next_offset[tp] += 1
            fetch[tp].append(
                FaustMessage(tp.topic, partition, offset, 0.0, 0, None, key, value, None, tp=tp)
            )
        await ingest(dict(fetch))


async def run_customers(h: Harness, batches: list[list[Message]]) -> None:
    """Run the batches through the customers agent's ``test_context``, one after the other."""
    async with h.app.agents["customers"].test_context(
        on_error=h.acknowledged.on_agent_error
    ) as agent:
        for messages in batches:
            await h.put_batch(agent, messages)


def test_customers_agent_takes_a_backlog_sixteen_messages_at_a_time(harness):
    # Each identity message carries up to ``batch_size`` items; a batch's outputs are held
    # until acknowledged, so a backlog is not taken whole.
    upstream = harness()
    asyncio.run(run_ingest(upstream, [[(b"c1", value, 0) for value in call("c1", 0)]]))
    [(key, packed)] = [(p.key, p.value) for p in upstream.produced if p.topic == NAMES.identity]

    h = harness(batch_size=1000)
    asyncio.run(run_customers(h, [[(key, packed, 0)] * 2 * CUSTOMER_BATCH_MESSAGES]))

    value = h.metrics.registry.get_sample_value
    assert value("omnicx_stream_messages_in_total", {"stage": "customers"}) == 32
    assert value("omnicx_stream_batch_seconds_count", {"stage": "customers"}) == 2
    # The same message again changes nothing: one journey, one version.
    [(_, journey)] = h.on(NAMES.journeys)
    assert (journey["contact_ids"], journey["version"]) == (["c1"], 1)


def test_ingest_batch_over_two_partitions_routes_every_output(harness):
    started_c1 = call("c1", 0)[0]
    batch = [
        (b"c1", started_c1, 0),
        *[(b"c2", value, 1) for value in call("c2", 60, {"email": "ada@example.org"}, "chat")],
        (b"x", b"not json", 1),  # offset 5 of partition 1
        (b"c1", started_c1, 0),  # a retry
        (b"not-c3", event("c3-4", "contact.ended", 10, "c3"), 0),
    ]
    h = harness()
    asyncio.run(run_ingest(h, [batch]))

    assert [(key, e["event_id"]) for key, e in h.on(NAMES.events)] == [
        (b"c1", "c1-1"),
        *[(b"c2", f"c2-{i}") for i in range(1, 6)],
    ]
    [(dead_key, dead)] = h.on(NAMES.dead_letters)
    assert dead_key == b"x"
    assert (dead["topic"], dead["partition"], dead["offset"]) == (NAMES.raw_events, 1, 5)
    [rekeyed] = [p for p in h.produced if p.topic == NAMES.raw_events]
    assert (rekeyed.key, rekeyed.value) == (b"c3", batch[-1][1])
    [(contact_key, record)] = h.on(NAMES.contacts)
    assert (contact_key, record["status"], record["channel"]) == (b"c2", "closed", "chat")
    # Both partitions' items for the customer stage, packed into one message.
    [(identity_key, identity)] = h.on(NAMES.identity)
    assert identity_key == b"acme"
    assert [m["kind"] for m in identity] == ["link", "contact"]
    assert identity[0]["body"]["customer_ids"] == HASHES
    assert identity[1]["body"]["contact_id"] == "c2"

    # Every state write lands in the changelog partition of the source partition it belongs to,
    # once per key and batch (de-duplication ids are kept per routing key). The contact states
    # and the batch's records (partition 1's outbox) are written before the outputs, the dedup
    # ids and the emptied outbox (a tombstone) after them (docs/streams.md, Delivery).
    outbox = ("outbox:1/records", 1)
    assert sorted(h.changelog("contact-state")) == [("0/c1", 0), ("1/c2", 1), outbox, outbox]
    assert sorted(h.changelog("dedup-state")) == [("0/c1", 0), ("1/c2", 1)]
    contact_log = f"{h.app.conf.id}-contact-state-changelog"
    order = [
        (p.topic, p.value is None)
        for p in h.produced
        if p.key == b"outbox:1/records" or p.topic in (NAMES.contacts, NAMES.events)
    ]
    assert order == [
        (contact_log, False),
        *[(NAMES.events, False)] * 6,
        (NAMES.contacts, False),
        (contact_log, True),
    ]
    [(_, [[outbox_record, trigger, lane]])] = [
        (p.key, orjson.loads(p.value))
        for p in h.produced
        if p.key == b"outbox:1/records" and p.value
    ]
    assert (outbox_record, trigger, lane) == (
        {**record},
        ["c2-5", round((T0 + 290) * 1000)],
        None,  # a live contact, not an import's
    )

    # The batch's counts, in the metrics once (streams.metrics).
    value = h.metrics.registry.get_sample_value
    assert value("omnicx_stream_messages_in_total", {"stage": "ingest"}) == len(batch)
    out = {
        output: value("omnicx_stream_records_out_total", {"stage": "ingest", "output": output})
        for output in ("events", "contacts", "identity_items", "rekeyed", "dead_letters")
    }
    assert out == {"events": 6, "contacts": 1, "identity_items": 2, "rekeyed": 1, "dead_letters": 1}
    assert value("omnicx_stream_duplicates_dropped_total") == 1
    assert value("omnicx_stream_dead_letters_total", {"reason": "not_json"}) == 1
    assert value("omnicx_stream_batch_seconds_count", {"stage": "ingest"}) == 1
    assert h.metrics.processed == {TP(NAMES.raw_events, 0): 3, TP(NAMES.raw_events, 1): 6}


def test_ingest_writes_each_partition_of_a_rocksdb_table_in_its_own_store(harness):
    """RocksDB files a table's reads and writes under the partition of the current event: the
    outbox of partition 1, processed before partition 0, is written there and emptied there."""
    h = harness(store="rocksdb://")
    closed = [(b"c1", value, 1) for value in call("c1", 0)]
    still_open = [(b"c2", value, 0) for value in call("c2", 0)[:2]]
    asyncio.run(run_ingest(h, [closed + still_open]))

    [(_, record)] = h.on(NAMES.contacts)
    assert (record["contact_id"], record["status"]) == ("c1", "closed")
    store = h.app.tables["contact-state"].data
    # the outbox written and emptied; each key in its partition's database
    assert {p: sorted(db.keys()) for p, db in store._dbs.items()} == {
        0: [b"0/c2", store.offset_key],
        1: [b"1/c1", store.offset_key],
    }


def test_ingest_recovers_a_partition_from_its_table_after_losing_it(harness):
    c1, c9 = call("c1", 0), call("c9", 0)
    h = harness()
    batches = [
        [(b"c1", value, 1) for value in c1[:3]],
        [(b"c9", value, 0) for value in c9[:3]],
        [(b"c1", value, 1) for value in (c1[0], *c1[3:])],
    ]
    # Partition 1 moves to another worker (its in-memory stage is dropped), then comes back: its
    # stage is rebuilt from the table.
    asyncio.run(run_ingest(h, batches, holding=[(0, 1), (0,), (0, 1)]))

    assert [e["event_id"] for _, e in h.on(NAMES.events)] == [
        *["c1-1", "c1-2", "c1-3"],
        *["c9-1", "c9-2", "c9-3"],
        *["c1-4", "c1-5"],  # the retried start is still known as a duplicate
    ]
    [(_, record)] = h.on(NAMES.contacts)
    assert (record["contact_id"], record["status"]) == ("c1", "closed")
    # Its first events were folded before the partition moved, and are still part of it.
    assert (record["started_at"], record["answered_at"]) == (format_utc(T0), format_utc(T0 + 20))


def test_customers_agent_stitches_what_ingest_produced(harness):
    # The same person calls, then chats the next day from their e-mail only, on another
    # partition: only the link from the call's start joins the two contacts.
    chat = call("c2", 86400, {"email": "ada@example.org"}, "chat")
    raw = [(b"c1", value, 0) for value in call("c1", 0)] + [(b"c2", value, 1) for value in chat]
    upstream = harness()
    asyncio.run(run_ingest(upstream, [raw]))
    identity = [(p.key, p.value, 0) for p in upstream.produced if p.topic == NAMES.identity]
    [(_, packed, _)] = identity
    assert [m["kind"] for m in orjson.loads(packed)] == ["link", "contact", "contact"]

    h = harness(batch_size=len(identity))
    asyncio.run(run_customers(h, [identity]))

    email, phone = HASHES  # sorted: "email:..." < "phone:..."
    [(_, audit)] = h.on(NAMES.identity_merges)
    assert (audit["action"], audit["new_key"]) == ("merge", email)
    [(journey_key, journey)] = h.on(NAMES.journeys)
    assert journey_key == b"c1"
    assert (journey["customer_key"], journey["contact_ids"]) == (email, ["c1", "c2"])
    assert (journey["channels"], journey["version"]) == (["voice", "chat"], 1)
    assert [(key, c["customer_key"], c["version"]) for key, c in h.on(NAMES.customers)] == [
        (f"acme|{email}".encode(), email, 1),
        (f"acme|{phone}".encode(), email, 1),
    ]
    # One partition: every table write of the stage lands in it.
    tables = ("identity-state", "journey-state", "customer-key-state")
    writes = [write for table in tables for write in h.changelog(table)]
    assert writes and {partition for _, partition in writes} == {0}
    value = h.metrics.registry.get_sample_value
    assert value("omnicx_stream_messages_in_total", {"stage": "customers"}) == len(identity)
    out = {
        output: value("omnicx_stream_records_out_total", {"stage": "customers", "output": output})
        for output in ("identity_merges", "journeys", "customers")
    }
    assert out == {"identity_merges": 1, "journeys": 1, "customers": 2}
