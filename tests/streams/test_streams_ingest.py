"""PartitionIngest: one raw-events partition, batch by batch, over plain stores (no broker)."""

import base64

import orjson
import pytest

from schemas.identifiers import hashed_identifiers
from schemas.routing import routing_key
from schemas.settings import with_overrides
from schemas.times import format_utc, parse_rfc3339
from schemas.topics import topic_names
from streams.ingest import (
    IDENTITY_MESSAGE_BYTES,
    PartitionIngest,
    RawMessage,
    identity_item,
    identity_messages,
)
from tests.pii import keyed_settings

T0 = parse_rfc3339("2026-01-05T09:00:00Z")
SETTINGS = keyed_settings()
RAW_TOPIC = topic_names(SETTINGS).raw_events
LATENESS = SETTINGS.stream.lateness_seconds
IDLE = SETTINGS.stream.idle_timeout_seconds
CUSTOMER = {"phone": "06 12 34 56 78", "email": "Ada@Example.org"}
HASHES = hashed_identifiers(CUSTOMER, SETTINGS.pii_key)


def raw(event_type, at, contact_id="c1", *, event_id=None, **fields):
    """A raw event of the contract ``at`` seconds after T0."""
    event = {
        "event_id": event_id or f"{contact_id}-{event_type}",
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": format_utc(T0 + at),
        "tenant": "acme",
        **fields,
    }
    if contact_id is not None:
        event["contact_id"] = contact_id
        event.setdefault("channel", "voice")
    return event


def voice_contact(contact_id="c1", at=0, customer=CUSTOMER):
    """A handled inbound call, from start to wrap-up, in order."""
    return [
        raw("contact.started", at, contact_id, direction="inbound", customer=customer),
        raw("contact.queued", at + 5, contact_id, queue="billing"),
        raw("contact.answered", at + 20, contact_id, agent_id="a1"),
        raw("contact.ended", at + 200, contact_id),
        raw("contact.wrapped_up", at + 230, contact_id, attributes={"disposition": "resolved"}),
    ]


def message(event, *, key=None, partition=0, offset=0):
    """``event`` as it sits on the raw topic; keyed by the routing rule unless ``key`` is given."""
    if key is None:
        key = routing_key(event).encode()
    return RawMessage(key, orjson.dumps(event), partition, offset)


def batch(events, partition=0, first_offset=0):
    return [message(e, partition=partition, offset=first_offset + i) for i, e in enumerate(events)]


def decoded(produced):
    return [(key, orjson.loads(value)) for key, value in produced]


def identity_items(out):
    assert {tenant for tenant, _ in out.identity} <= {"acme"}
    return [orjson.loads(item) for _, item in out.identity]


@pytest.fixture
def stores(json_store):
    return json_store(), json_store()  # contact states, dedup ids


@pytest.fixture
def stage(stores):
    return PartitionIngest(SETTINGS, RAW_TOPIC, *stores)


def test_bad_messages_become_dead_letters_with_their_bytes_source_and_errors(stage):
    valid = raw("contact.started", 0, direction="inbound", customer=CUSTOMER)
    no_queue = raw("contact.queued", 5)
    year_10000 = raw("contact.ended", 10, occurred_at="9999-12-31T23:30:00-01:00")
    messages = [
        message(valid, partition=3, offset=10),
        RawMessage(b"k1", b'{"event_id": "e1", ', 3, 11),
        message(no_queue, partition=3, offset=12),
        message(year_10000, partition=3, offset=13),
    ]
    out = stage.process(messages)

    assert [orjson.loads(v)["event_id"] for _, v in out.events] == ["c1-contact.started"]
    dead, stored = decoded(out.dead_letters), decoded(out.dead_letters_raw)
    assert [key for key, _ in dead] == [key for key, _ in stored] == [b"k1", b"c1", b"c1"]
    for (_, record), (_, kept), original in zip(dead, stored, messages[1:], strict=True):
        assert (record["topic"], record["partition"]) == (RAW_TOPIC, 3)
        assert record["offset"] == original.offset
        assert record["dead_letter_id"] == kept["dead_letter_id"]
        assert "raw_base64" not in record  # analysts never get the bytes
        assert base64.b64decode(kept["raw_base64"]) == original.value
        assert record["raw_size"] == kept["raw_size"] == len(original.value)
    assert dead[0][1]["errors"] == [
        "$: expected a JSON document, got invalid JSON "
        "(unexpected end of data: line 1 column 20 (char 19))"
    ]
    assert len(dead[1][1]["errors"]) == 1 and dead[1][1]["errors"][0].startswith("queue:")
    assert dead[2][1]["errors"] == ["occurred_at: year 10000 is out of range"]
    assert out.contacts == out.rekeyed == []
    assert out.dead_letter_reasons == {"not_json": 1, "schema": 2}  # the metric's labels


def bounded_stage(stores, **stream):
    settings = with_overrides(SETTINGS, stream=stream)
    return PartitionIngest(settings, RAW_TOPIC, *stores)


def test_each_crash_loop_message_is_a_dead_letter_and_the_batch_goes_on(stores):
    """Issue 10, defect 2: a tombstone, a too deep and a too large message among valid ones."""
    stage = bounded_stage(stores, max_message_bytes=4096, max_nesting_depth=8)
    deep = raw("contact.queued", 5, queue="q", attributes={"a": {"a": {"a": {"a": {"a": {}}}}}})
    deep["attributes"] = {"x": deep["attributes"]}
    deep["attributes"]["x"]["a"]["a"]["a"]["a"]["a"] = {"b": [[1]]}
    huge = raw("contact.queued", 6, queue="q", attributes={"note": "n" * 5000})
    first, *rest = voice_contact()
    messages = [
        message(first, offset=0),
        RawMessage(b"c1", None, 0, 1),
        message(deep, offset=2),
        RawMessage(b"c1", b"{" + b"x" * 5000, 0, 3),
        message(huge, offset=4),
        *batch(rest, first_offset=5),
    ]
    out = stage.process(messages)

    assert len(out.events) == 5 and out.duplicates == 0
    [(_, contact)] = decoded(out.contacts)
    assert contact["status"] == "closed"
    errors = [record["errors"] for _, record in decoded(out.dead_letters)]
    assert errors == [
        ["$: expected a JSON document, got a tombstone"],
        ["$: expected at most 8 levels of nesting (stream.max_nesting_depth), got deeper nesting"],
        ["$: expected at most 4096 bytes (stream.max_message_bytes), got 5001 bytes"],
        [
            f"$: expected at most 4096 bytes (stream.max_message_bytes), got {len(messages[4].value)} bytes"
        ],
    ]
    kept = [record for _, record in decoded(out.dead_letters_raw)]
    assert [k["tombstone"] for k in kept] == [True, False, False, False]
    assert base64.b64decode(kept[1]["raw_base64"]) == messages[2].value
    assert kept[2]["raw_base64"] is kept[3]["raw_base64"] is None  # left in the raw topic
    assert all(len(value) < 8192 for _, value in out.dead_letters + out.dead_letters_raw)
    assert out.dead_letter_reasons == {"tombstone": 1, "too_deep": 1, "too_large": 2}


def test_a_far_future_event_is_a_dead_letter_and_the_clock_does_not_move(stores):
    """Issue 10, defect 5: judged against the broker's append time of the message."""
    stage = bounded_stage(stores, max_future_seconds=3600)
    started = raw("contact.started", 0, direction="inbound", customer=CUSTOMER)
    appended = T0 + 60
    poison = raw("contact.queued", 0, queue="q", occurred_at="9999-12-31T00:00:00Z")
    in_bound = raw("contact.queued", 3600 + 60, queue="q", event_id="ok")
    over = raw("contact.queued", 3600 + 61, queue="q", event_id="over")
    messages = [
        RawMessage(b"c1", orjson.dumps(e), 0, i, appended_at=appended)
        for i, e in enumerate([started, poison, in_bound, over])
    ]
    out = stage.process(messages)

    assert [orjson.loads(v)["event_id"] for _, v in out.events] == ["c1-contact.started", "ok"]
    dead = [record for _, record in decoded(out.dead_letters)]
    assert [d["offset"] for d in dead] == [1, 3]
    assert dead[0]["errors"] == [
        "occurred_at: 9999-12-31T00:00:00.000Z is more than 3600 s (stream.max_future_seconds) "
        "ahead of when the broker received the message"
    ]
    assert stage.dedup.clock.now == T0 + 3660
    assert out.dead_letter_reasons == {"far_future": 2}


def test_a_replayed_message_that_fails_again_keeps_its_dead_letter_id(stage):
    bad = b'{"event_id": "e1", '
    first = stage.process([RawMessage(b"k", bad, 0, 7)])
    [(_, original)] = decoded(first.dead_letters)
    header = [("omnicx-dead-letter-id", original["dead_letter_id"].encode())]
    again = stage.process([RawMessage(b"k", bad, 0, 99, headers=header)])
    [(_, copy)] = decoded(again.dead_letters)
    [(_, kept)] = decoded(again.dead_letters_raw)
    assert copy["dead_letter_id"] == kept["dead_letter_id"] == original["dead_letter_id"]
    assert (copy["offset"], copy["replayed"], original["replayed"]) == (99, True, False)


def test_mis_keyed_message_is_rekeyed_not_folded_and_not_remembered(stage, stores):
    *opening, wrap_up = voice_contact()
    out = stage.process([*batch(opening), message(wrap_up, key=b"not-c1", offset=4)])

    assert out.rekeyed == [(b"c1", orjson.dumps(wrap_up))]
    assert len(out.events) == 4 and out.duplicates == 0
    assert out.contacts == []  # the wrap-up that closes it was not folded here
    assert "c1-contact.wrapped_up" not in stores[1]

    # The re-keyed copy comes back through the raw topic with the right key: it is new.
    key, value = out.rekeyed[0]
    again = stage.process([RawMessage(key, value, 0, 5)])
    assert again.duplicates == 0 and again.rekeyed == []
    assert [orjson.loads(v)["event_id"] for _, v in again.events] == ["c1-contact.wrapped_up"]
    [(contact_key, record)] = decoded(again.contacts)
    assert contact_key == b"c1"
    assert (record["status"], record["disposition"]) == ("closed", "resolved")
    assert record["wrapped_up_at"] == format_utc(T0 + 230)


@pytest.mark.parametrize(
    ("event", "right_key"),
    [
        (raw("agent.state_changed", 0, None, agent_id="a1", event_id="s1"), b"a1"),
        (raw("identity.linked", 0, None, customer=CUSTOMER, event_id="l1"), b"l1"),
    ],
)
def test_events_without_a_contact_route_by_agent_then_event_id(stage, event, right_key):
    assert stage.process([message(event, key=b"")]).rekeyed == [(right_key, orjson.dumps(event))]
    assert len(stage.process([message(event, key=right_key)]).events) == 1


def test_duplicates_count_once_within_and_across_batches(stage, stores):
    started, queued = voice_contact()[:2]
    first = stage.process(batch([started, started, queued, started]))
    assert first.duplicates == 2
    assert [orjson.loads(v)["event_id"] for _, v in first.events] == [
        "c1-contact.started",
        "c1-contact.queued",
    ]
    assert len(first.identity) == 1  # the start's identifiers, linked once

    retried = stage.process(batch([queued], first_offset=4))
    assert (retried.duplicates, retried.events, retried.identity) == (1, [], [])
    assert sorted(stores[1]["c1"]) == ["c1-contact.queued", "c1-contact.started"]


def test_events_with_two_usable_identifiers_produce_identity_links(stage):
    events = [
        raw("contact.started", 0, "c1", direction="inbound", customer=CUSTOMER),
        raw("contact.started", 1, "c2", direction="inbound", customer={"phone": "0612345678"}),
        # junk is dropped before linking: one usable identifier left, nothing to link
        raw("contact.started", 2, "c3", direction="inbound", customer={**CUSTOMER, "phone": "0"}),
        raw("identity.linked", 3, None, event_id="l1", customer={**CUSTOMER, "customer_id": "C7"}),
    ]
    out = stage.process(batch(events))

    links = identity_items(out)
    assert [m["kind"] for m in links] == ["link", "link"]
    assert [m["body"]["event_id"] for m in links] == ["c1-contact.started", "l1"]
    assert links[0]["body"]["customer_ids"] == HASHES
    linked = hashed_identifiers({**CUSTOMER, "customer_id": "C7"}, SETTINGS.pii_key)
    assert links[1]["body"]["customer_ids"] == linked
    assert len(linked) == 3
    assert "customer" not in links[0]["body"]  # raw identifiers never leave ingest
    assert out.contacts == []  # an identity.linked event is not part of any contact


def test_closing_event_emits_the_record_to_contacts_and_to_identity(stage):
    out = stage.process(batch(voice_contact()))

    [(key, record)] = decoded(out.contacts)
    assert key == b"c1"
    assert record["version"] == 1
    assert record["status"] == "closed"
    assert record["customer_ids"] == HASHES
    assert (record["queues"], record["agents"]) == (["billing"], ["a1"])
    assert (record["talk_seconds"], record["acw_seconds"]) == (180.0, 30.0)
    facts = {name: value for name, value in record.items() if name != "version"}
    # The link from the start precedes the record, so identity files it under the merged customer.
    assert identity_items(out) == [
        {"kind": "link", "body": orjson.loads(out.events[0][1])},
        {"kind": "contact", "body": facts, "trigger": ["c1-contact.wrapped_up", 1767603830000]},
    ]


def test_idle_timeout_closes_a_contact_as_incomplete_through_the_stage(stage):
    started, queued = voice_contact()[:2]  # last event at T0 + 5
    stage.process(batch([started, queued]))

    # The watermark trails the latest event by the lateness: one second short of the timeout.
    other = voice_contact("c2", at=5 + IDLE + LATENESS - 1)[0]
    assert stage.process(batch([other], first_offset=2)).contacts == []

    later = raw("contact.queued", 5 + IDLE + LATENESS, "c2", queue="billing")
    out = stage.process(batch([later], first_offset=3))
    [(key, record)] = decoded(out.contacts)
    assert key == b"c1"
    assert (record["status"], record["version"]) == ("incomplete", 1)
    assert record["first_queued_at"] == format_utc(T0 + 5)
    assert [m["kind"] for m in identity_items(out)] == ["contact"]


def test_out_of_order_batches_end_with_the_in_order_record(json_store):
    started, queued, answered, ended, wrapped = voice_contact()
    in_order = PartitionIngest(SETTINGS, RAW_TOPIC, json_store(), json_store())
    [(_, expected)] = decoded(in_order.process(batch(voice_contact())).contacts)

    shuffled = PartitionIngest(SETTINGS, RAW_TOPIC, json_store(), json_store())
    first = decoded(shuffled.process(batch([wrapped, answered])).contacts)
    second = decoded(shuffled.process(batch([ended, started, queued], first_offset=2)).contacts)

    # The wrap-up closes the contact at once; the late events update it as a new version.
    assert [record["version"] for _, record in first + second] == [1, 2]
    assert first[0][1]["started_at"] is None
    assert second[0][1] == {**expected, "version": 2}


def test_a_restarted_stage_absorbs_a_replay_from_its_stores(stores):
    events = voice_contact()
    PartitionIngest(SETTINGS, RAW_TOPIC, *stores).process(batch(events))

    restarted = PartitionIngest(SETTINGS, RAW_TOPIC, *stores)
    replay = restarted.process(batch(events))
    assert replay.duplicates == len(events)
    assert (replay.events, replay.contacts, replay.identity) == ([], [], [])


def test_a_replay_after_the_dedup_window_changes_no_contact(stage, stores):
    events = voice_contact()
    stage.process(batch(events))
    # Event time moves on by more than the lateness: the contact's ids leave the dedup store.
    stage.process(batch(voice_contact("c2", at=230 + LATENESS + 1)[:1], first_offset=5))
    assert not any(event_id.startswith("c1-") for event_id in stores[1])

    replay = stage.process(batch(events, first_offset=6))
    # Accepted again as events, but the contact already holds these ids: no new version.
    assert (replay.duplicates, len(replay.events)) == (0, len(events))
    assert replay.contacts == []
    assert stores[0]["c1"]["version"] == 1


def test_identity_items_travel_packed_per_tenant_in_order_in_messages_of_bounded_size():
    tenants = ("acme", "globex")
    items = [
        identity_item("link", tenants[n % 2], {"n": n, "pad": "x" * 1000}) for n in range(1400)
    ]

    messages = identity_messages(items)

    assert [key for key, _ in messages] == [b"acme"] * 3 + [b"globex"] * 3  # ~1 KB an item
    assert all(len(value) <= IDENTITY_MESSAGE_BYTES for _, value in messages)
    for tenant in tenants:
        unpacked = [i for key, v in messages if key == tenant.encode() for i in orjson.loads(v)]
        assert [item["body"]["n"] for item in unpacked] == list(
            range(tenants.index(tenant), 1400, 2)
        )
    assert identity_messages([]) == []


def test_a_raw_message_reads_the_replay_header_from_pairs_or_a_mapping():
    assert RawMessage(b"k", b"{}", 0, 0).replay_of is None
    pairs = [("other", b"x"), ("omnicx-dead-letter-id", b"abc")]
    assert RawMessage(b"k", b"{}", 0, 0, headers=pairs).replay_of == "abc"
    assert (
        RawMessage(b"k", b"{}", 0, 0, headers={"omnicx-dead-letter-id": "abc"}).replay_of == "abc"
    )


def test_business_keys_carry_the_raw_crm_ids_once_per_run_by_their_hash(stage):
    customer = {"customer_id": "C-00042", "account_id": "ACC-7", "phone": "06 12 34 56 78"}
    first = stage.process(batch(voice_contact("c1", customer=customer)))
    hashed = hashed_identifiers(customer, SETTINGS.pii_key)
    by_kind = {h.split(":")[0]: h for h in hashed}
    assert sorted(decoded(first.business_keys)) == sorted(
        [
            (
                f"acme|{by_kind[kind]}".encode(),
                {"tenant": "acme", "kind": kind, "identifier": by_kind[kind], "value": value},
            )
            for kind, value in (("customer_id", "C-00042"), ("account_id", "ACC-7"))
        ]
    )
    # The same customer again (another contact): already sent by this worker run.
    again = stage.process(batch(voice_contact("c2", at=600, customer=customer), first_offset=50))
    assert again.business_keys == []
    # Raw values never go anywhere else.
    assert all(b"C-00042" not in value for _, value in first.events + first.contacts)


def test_junk_business_ids_are_not_sent(stage):
    out = stage.process(batch(voice_contact("c1", customer={"customer_id": "unknown"})))
    assert out.business_keys == []


def test_surveys_and_opt_outs_reach_the_customer_stage_as_items(stage):
    survey = raw("survey.completed", 400, "c1", attributes={"nps": 3, "csat": 4})
    opt_out = raw("customer.opted_out", 500, None, customer={"customer_id": "C-1"})
    out = stage.process(batch([survey, opt_out]))
    items = {item["kind"]: item["body"] for item in identity_items(out)}
    assert items["survey"] == {
        "event_id": "c1-survey.completed",
        "tenant": "acme",
        "ts": T0 + 400,
        "contact_id": "c1",
        "nps": 3,
        "csat": 4,
        "ces": None,
    }
    assert items["opt_out"]["customer_ids"] == hashed_identifiers(
        {"customer_id": "C-1"}, SETTINGS.pii_key
    )


def test_a_batch_spanning_more_than_the_contact_retention_folds_every_contact(stage):
    """A bulk import of history: one batch holds ten days of calls, in order. Each contact is
    new and none could have been pruned before the batch, so each is folded and emitted, though
    the batch moves the watermark far past the retention behind the first ones."""
    day = 86400
    assert SETTINGS.stream.contact_retention_days < 10
    events = [e for n in range(10) for e in voice_contact(f"c{n}", at=n * day)]
    out = stage.process(batch(events))

    emitted = {orjson.loads(value)["contact_id"] for _, value in out.contacts}
    assert emitted == {f"c{n}" for n in range(10)}
    assert stage.fold.too_late == 0
    # the next batch judges by the watermark the sweep pruned with: the first day's contact
    # was pruned, and an event of it alone is not folded
    late = stage.process(batch([raw("survey.completed", 60, "c0", attributes={"csat": 5})], 0, 99))
    assert late.contacts == [] and stage.fold.too_late == 1
