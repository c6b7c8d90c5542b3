"""CustomerStage: identity stitching and journeys over the identity topic's messages, batch by
batch, over plain stores (no broker). Messages are built with the producer side's own
``identity_item`` and ``identity_messages``, so the format between the two stages is what is
tested."""

import orjson
import pytest

from schemas.records import ContactFacts
from schemas.times import format_utc, parse_rfc3339
from streams.customers import CustomerStage
from streams.ingest import identity_item, identity_messages
from tests.pii import keyed_settings

T0 = parse_rfc3339("2026-01-05T09:00:00Z")
SETTINGS = keyed_settings()  # one account per set, W = 7 days


def contact(contact_id, at, customer_ids, channel="voice"):
    """A handled and resolved inbound contact record ``at`` seconds after T0."""
    return ContactFacts(
        contact_id=contact_id,
        tenant="acme",
        channel=channel,
        direction="inbound",
        customer_ids=sorted(customer_ids),
        started_at=format_utc(T0 + at),
        first_queued_at=format_utc(T0 + at + 5),
        answered_at=format_utc(T0 + at + 20),
        ended_at=format_utc(T0 + at + 200),
        wrapped_up_at=format_utc(T0 + at + 230),
        disposition="resolved",
        status="closed",
    )


def packed(*items):
    [(_, message)] = identity_messages(list(items))
    return message


def contact_message(*contacts):
    """One identity message, as the ingest stage packs one tenant's records of a batch."""
    return packed(*(identity_item("contact", c.tenant, c.to_dict()) for c in contacts))


@pytest.fixture
def link(ev):
    def make(event_id, *customer_ids):
        event = ev("identity.linked", 0, None, event_id=event_id, customer_ids=list(customer_ids))
        return packed(identity_item("link", "acme", event))

    return make


@pytest.fixture
def stage(json_store):
    return CustomerStage(SETTINGS, json_store(), json_store(), json_store(), json_store())


def decoded(produced):
    return [(key, orjson.loads(value)) for key, value in produced]


C1 = contact("c1", 0, ["phone:a"])
C2 = contact("c2", 86400, ["email:b"], channel="chat")  # the next day, within W


def journey(contacts, customer_key, version, superseded=False):
    """The journey record of ``contacts`` (made by ``contact``: answered, ended, resolved)."""
    first = contacts[0]
    return {
        "journey_id": first.contact_id,
        "customer_key": customer_key,
        "tenant": "acme",
        "first_contact_id": first.contact_id,
        "first_started_at": first.started_at,
        "contact_ids": [c.contact_id for c in contacts],
        "channels": list(dict.fromkeys(c.channel for c in contacts)),
        "resolved_at_first_contact": len(contacts) == 1,
        "first_contact_resolvable_in_one_contact": True,
        "last_disposition": "resolved",
        "version": version,
        "superseded": superseded,
    }


def customer(identifier, key, version):
    return (
        f"acme|{identifier}".encode(),
        {"tenant": "acme", "identifier": identifier, "customer_key": key, "version": version},
    )


def test_a_link_then_contacts_make_one_cross_channel_journey(stage, link):
    out = stage.process([link("l1", "email:b", "phone:a"), contact_message(C1, C2)])

    [(key, audit)] = decoded(out.merges)
    assert key == b"acme"
    assert (audit["action"], audit["new_key"]) == ("merge", "email:b")
    assert audit["evidence"]["event_id"] == "l1"
    assert audit["evidence"]["identifiers"] == ["email:b", "phone:a"]
    assert decoded(out.journeys) == [
        (b"c1", journey([C1, C2], "email:b", 1)),
    ]
    assert decoded(out.customers) == [
        customer("email:b", "email:b", 1),
        customer("phone:a", "email:b", 1),
    ]


def test_a_late_merge_supersedes_a_journey_and_regroups_the_contacts(stage, link):
    first = stage.process([contact_message(C1), contact_message(C2)])
    assert decoded(first.journeys) == [
        (b"c1", journey([C1], "phone:a", 1)),
        (b"c2", journey([C2], "email:b", 1)),
    ]
    assert decoded(first.customers) == [
        customer("email:b", "email:b", 1),
        customer("phone:a", "phone:a", 1),
    ]

    merged = stage.process([link("l1", "email:b", "phone:a")])
    assert [audit["action"] for _, audit in decoded(merged.merges)] == ["merge"]
    # The absorbed journey first, with its last facts; then the one that now holds both.
    assert decoded(merged.journeys) == [
        (b"c2", journey([C2], "email:b", 2, superseded=True)),
        (b"c1", journey([C1, C2], "email:b", 2)),
    ]
    # Only the identifier whose customer changed is published again, with the next version.
    assert decoded(merged.customers) == [customer("phone:a", "email:b", 2)]


def test_contacts_before_a_link_in_one_batch_are_filed_then_regrouped(stage, link):
    out = stage.process(
        [contact_message(C1), contact_message(C2), link("l1", "email:b", "phone:a")]
    )
    assert [(r["journey_id"], r["version"], r["superseded"]) for _, r in decoded(out.journeys)] == [
        ("c1", 1, False),
        ("c2", 1, False),
        ("c2", 2, True),
        ("c1", 2, False),
    ]
    # Keys are published once per batch, for the state at its end.
    assert decoded(out.customers) == [
        customer("email:b", "email:b", 1),
        customer("phone:a", "email:b", 1),
    ]


def test_a_replayed_batch_publishes_nothing(stage, link):
    messages = [contact_message(C1), link("l1", "email:b", "phone:a"), contact_message(C2)]
    stage.process(messages)
    replay = stage.process(messages)
    assert (replay.merges, replay.journeys, replay.customers) == ([], [], [])


def test_a_hub_identifier_publishes_no_customer_and_its_contacts_become_anonymous(stage, link):
    first = stage.process([link("l1", "customer_id:x", "phone:p")])
    assert decoded(first.customers) == [
        customer("customer_id:x", "customer_id:x", 1),
        customer("phone:p", "customer_id:x", 1),
    ]

    # The same phone with a second account: with one account per set it becomes a hub.
    second = stage.process([link("l2", "customer_id:y", "phone:p")])
    [(_, audit)] = decoded(second.merges)
    assert (audit["action"], audit["evidence"]["identifiers"]) == ("hub", ["phone:p"])
    assert decoded(second.customers) == [customer("phone:p", None, 2)]

    switchboard = contact("c3", 0, ["phone:p"])
    third = stage.process([contact_message(switchboard)])
    [(_, record)] = decoded(third.journeys)
    assert record["customer_key"] == "anonymous:c3"
    assert third.customers == []  # phone:p was already published as nobody's


def test_items_packed_in_one_message_apply_like_one_message_each(json_store, ev):
    event = ev("identity.linked", 0, None, event_id="l1", customer_ids=["email:b", "phone:a"])
    items = [
        identity_item("contact", "acme", C1.to_dict()),
        identity_item("contact", "acme", C2.to_dict()),
        identity_item("link", "acme", event),
    ]
    one_each = CustomerStage(SETTINGS, json_store(), json_store(), json_store(), json_store())
    together = CustomerStage(SETTINGS, json_store(), json_store(), json_store(), json_store())

    separate = one_each.process([packed(item) for item in items])
    packed_out = together.process([packed(*items)])

    assert decoded(packed_out.journeys) == decoded(separate.journeys)
    assert len(packed_out.journeys) == 4  # two filed, then superseded and regrouped
    assert decoded(packed_out.merges) == decoded(separate.merges)
    assert decoded(packed_out.customers) == decoded(separate.customers)
