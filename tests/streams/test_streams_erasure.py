"""streams.erasure: which state entries an erasure deletes or rewrites, proved on the customer
stage's own state (identity graph, journeys, customer keys, churn) over plain stores."""

import pytest

from streams.customers import CustomerStage
from streams.erasure import DELETE, StateErasure, erase_entry
from streams.ingest import identity_item
from tests.streams.test_streams_customers import (
    SETTINGS,
    contact,
    contact_message,
    decoded,
    packed,
)


@pytest.fixture
def link(ev):
    def make(event_id, *customer_ids):
        event = ev("identity.linked", 0, None, event_id=event_id, customer_ids=list(customer_ids))
        return packed(identity_item("link", "acme", event))

    return make


def erase_store(store, erasure: StateErasure) -> int:
    """What the erasure writes to a table's changelog, applied to the table; how many entries."""
    changes = {}
    for key in list(store):
        changed, new = erase_entry(key, store[key], erasure)
        if changed:
            changes[key] = new
    for key, new in changes.items():
        if new is DELETE:
            del store[key]
        else:
            store[key] = new
    return len(changes)


def test_an_erased_customer_leaves_no_state_and_comes_back_as_a_new_one(json_store, link):
    stores = [json_store() for _ in range(4)]
    stage = CustomerStage(SETTINGS, *stores)
    # The customer: phone a and e-mail b, linked, with a call and a chat; another customer c.
    first = contact("c1", 0, ["phone:a"])
    second = contact("c2", 3600, ["email:b"], channel="chat")
    other = contact("c3", 600, ["phone:c"])
    stage.process([link("l1", "email:b", "phone:a"), contact_message(first, second, other)])
    forget = frozenset({"phone:a", "email:b", "c1", "c2"})  # hashes, customer key, contacts
    erasure = StateErasure("acme", forget)

    assert sum(erase_store(store, erasure) for store in stores) > 0
    for store in stores:
        for key, value in store.items():
            text = f"{key} {value}"
            assert not any(item in text for item in forget), text
    # another customer's state is untouched
    assert stage.book.filed_key("acme", "c3") == "phone:c"
    assert stage.graph.customer_key("acme", ["phone:c"]) == "phone:c"

    # A later contact from the same phone: a new customer, alone in its journey, its key
    # published again from version 1, and no link to the e-mail.
    again = contact("c4", 7200, ["phone:a"])
    fresh = CustomerStage(SETTINGS, *stores)  # a worker restarted on the erased changelogs
    out = fresh.process([contact_message(again)])
    assert fresh.graph.members("acme", fresh.graph.root("acme", "phone:a")) == ["phone:a"]
    [(_, journey)] = decoded(out.journeys)
    assert (journey["contact_ids"], journey["version"]) == (["c4"], 1)
    assert [(r["identifier"], r["version"]) for _, r in decoded(out.customers)] == [("phone:a", 1)]


def test_shared_lists_lose_only_the_entries_that_mention_the_person() -> None:
    erasure = StateErasure("acme", frozenset({"phone:a"}))
    recent = [[1.0, "c1", ["phone:a", "hub:x"]], [2.0, "c2", ["email:z"]]]
    assert erase_entry("acme|~contacts", recent, erasure) == (True, [[2.0, "c2", ["email:z"]]])
    assert erase_entry("acme|~contacts", recent[:1], erasure) == (True, DELETE)
    assert erase_entry("acme|phone:a", {"root": "email:b"}, erasure) == (True, DELETE)
    # a hub of their set (a switchboard) stays a hub, alone
    assert erase_entry("acme|phone:h", {"root": "phone:a", "hub": True}, erasure) == (
        True,
        {"root": "phone:h", "members": ["phone:h"], "key": None, "hub": True},
    )
    root = {"root": "phone:h", "members": ["phone:a", "phone:h"], "key": "phone:a", "hub": True}
    assert erase_entry("acme|phone:h", root, erasure) == (
        True,
        {"root": "phone:h", "members": ["phone:h"], "key": None, "hub": True},
    )
    # another tenant's node of the same hash (the same phone at another brand) stays
    assert erase_entry("nova|phone:a", {"root": "phone:a"}, erasure) == (False, {"root": "phone:a"})


def test_a_journey_state_holding_an_erased_contact_goes_whole() -> None:
    """Not a state without its contacts and journeys (that would not load): as before it kept
    its latest contact, when dropping both left nothing."""
    state = {
        "contacts": {"c1": {"contact_id": "c1"}, "c9": {"contact_id": "c9"}},
        "journeys": {"c9": {"contact_ids": ["c9", "c1"]}},
        "latest": [1.0e12, "c9"],
    }
    erasure = StateErasure("acme", frozenset({"c1"}))
    assert erase_entry("c|acme|phone:z", state, erasure) == (True, DELETE)


def test_a_removed_tenant_loses_its_keyed_entries_and_its_contact_folds() -> None:
    erasure = StateErasure("acme", whole_tenant=True)
    assert erase_entry("c|acme|phone:a", {}, erasure) == (True, DELETE)
    assert erase_entry("3/c1", {"tenant": "acme", "events": []}, erasure) == (True, DELETE)
    assert erase_entry("3/c2", {"tenant": "nova", "events": []}, erasure)[0] is False
    assert erase_entry("t|clock", 12.0, erasure)[0] is False
