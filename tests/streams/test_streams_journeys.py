import json
import math
import random

import pytest

from schemas.records import ContactFacts, JourneyFacts
from schemas.times import format_utc, parse_rfc3339
from streams.identity import IdentityGraph
from streams.journeys import (
    JourneyBook,
    JourneyRecord,
    _journey_order,
    build_journeys,
    diff_journeys,
    joins_journey,
)

T0 = parse_rfc3339("2026-01-05T09:00:00Z")
DAY = 86400.0
W = 7 * DAY


def at(seconds):
    return format_utc(T0 + seconds)


def contact(cid, start, end=None, channel="voice", disposition="resolved", **fields):
    """A handled inbound contact started ``start`` s after T0, wrapped up at ``end``."""
    end = start + 600 if end is None else end
    values = {
        "direction": "inbound",
        "customer_ids": ["customer_id:a"],
        "started_at": at(start),
        "first_queued_at": at(start + 5),
        "answered_at": at(start + 20),
        "ended_at": at(end - 60),
        "wrapped_up_at": at(end),
        "disposition": disposition,
        "status": "closed",
    }
    values.update(fields)
    return ContactFacts(contact_id=cid, tenant="acme", channel=channel, **values)


def grouped(journeys):
    return [j.contact_ids for j in journeys]


def test_window_boundary_exactly_w_repeats_just_over_starts_a_new_journey():
    first = contact("c1", 0, end=1000)
    assert grouped(build_journeys([first, contact("c2", 1000 + W)], W, "k")) == [["c1", "c2"]]
    assert grouped(build_journeys([first, contact("c2", 1000.001 + W)], W, "k")) == [
        ["c1"],
        ["c2"],
    ]


def test_end_is_wrap_up_else_end_else_abandon():
    no_wrap = contact("c1", 0, end=1000, wrapped_up_at=None)  # ended at 940
    assert grouped(build_journeys([no_wrap, contact("c2", 940 + W)], W, "k")) == [["c1", "c2"]]
    assert len(build_journeys([no_wrap, contact("c2", 941 + W)], W, "k")) == 2
    abandoned = contact(
        "c1", 0, answered_at=None, ended_at=None, wrapped_up_at=None, abandoned_at=at(100)
    )
    assert len(build_journeys([abandoned, contact("c2", 100 + W)], W, "k")) == 1
    assert len(build_journeys([abandoned, contact("c2", 101 + W)], W, "k")) == 2


def test_window_counts_from_the_previous_contact_only():
    journeys = build_journeys(
        [contact("c1", 0), contact("c2", 6 * DAY), contact("c3", 13 * DAY + 600)], W, "k"
    )
    assert grouped(journeys) == [["c1", "c2", "c3"]]
    # The previous contact by start, even when an earlier one (a long thread) ended later.
    thread = contact("t", 0, end=10 * DAY, channel="email")
    journeys = build_journeys([thread, contact("c2", DAY), contact("c3", 9 * DAY)], W, "k")
    assert grouped(journeys) == [["t", "c2"], ["c3"]]


def test_only_offered_inbound_contacts_join():
    deflected = contact("d", 10, deflected=True, first_queued_at=None, answered_at=None)
    outbound = contact("o", 20, direction="outbound")
    short = contact("s", 30, answered_at=None, short_abandon=True, abandoned=True)
    never_queued = contact("n", 40, first_queued_at=None, answered_at=None)
    long_abandon = contact("l", 50, answered_at=None, abandoned=True)
    answered_unqueued = contact("u", 60, first_queued_at=None)
    assert [joins_journey(c) for c in (deflected, outbound, short, never_queued)] == [False] * 4
    assert joins_journey(long_abandon) and joins_journey(answered_unqueued)
    contacts = [deflected, outbound, short, never_queued, long_abandon, answered_unqueued]
    assert grouped(build_journeys(contacts, W, "k")) == [["l", "u"]]


def test_cross_channel_journey_and_per_channel_journeys():
    contacts = [
        contact("v1", 0, channel="voice"),
        contact("e1", DAY, channel="email"),
        contact("v2", 2 * DAY, channel="voice", disposition="unresolved"),
    ]
    [journey] = build_journeys(list(reversed(contacts)), W, "cust")
    assert journey == JourneyFacts(
        journey_id="v1",
        customer_key="cust",
        tenant="acme",
        first_contact_id="v1",
        first_started_at="2026-01-05T09:00:00.000Z",
        contact_ids=["v1", "e1", "v2"],
        channels=["voice", "email"],
        resolved_at_first_contact=False,
        first_contact_resolvable_in_one_contact=True,
        last_disposition="unresolved",
    )
    per_channel = build_journeys(contacts, W, "cust", per_channel=True)
    assert grouped(per_channel) == [["v1", "v2"], ["e1"]]
    assert [j.resolved_at_first_contact for j in per_channel] == [False, True]
    assert per_channel[1].channels == ["email"]


def test_resolved_at_first_contact_needs_handled_resolved_and_alone():
    def fcr(c):
        [journey] = build_journeys([c], W, "k")
        return journey.resolved_at_first_contact

    assert fcr(contact("c", 0)) is True
    assert fcr(contact("c", 0, disposition="follow_up")) is False
    assert fcr(contact("c", 0, ended_at=None)) is False  # answered, never ended: not handled
    abandoned = contact("c", 0, answered_at=None, ended_at=None, wrapped_up_at=None)
    assert fcr(abandoned) is False
    [journey] = build_journeys(
        [contact("c", 0, resolvable_in_one_contact=False), contact("d", DAY)], W, "k"
    )
    assert journey.resolved_at_first_contact is False
    assert journey.first_contact_resolvable_in_one_contact is False
    assert journey.last_disposition == "resolved"


def test_diff_reports_changed_and_superseded():
    old = {
        j.journey_id: j for j in build_journeys([contact("a", 0), contact("b", 9 * DAY)], W, "k")
    }
    new = build_journeys([contact("a", 0), contact("x", 4 * DAY), contact("b", 9 * DAY)], W, "k")
    changed, superseded = diff_journeys(old, new)
    assert grouped(changed) == [["a", "x", "b"]]
    assert [j.journey_id for j in superseded] == ["b"]
    assert diff_journeys({j.journey_id: j for j in new}, new) == ([], [])


def emitted(records):
    return [(r.facts.journey_id, r.version, r.superseded, r.facts.contact_ids) for r in records]


def test_book_regroups_late_contacts_and_versions_grow():
    book = JourneyBook({}, lambda tenant, ids: min(ids) if ids else None, W)
    assert emitted(book.apply_contacts([contact("a", 0), contact("b", 9 * DAY)])) == [
        ("a", 1, False, ["a"]),
        ("b", 1, False, ["b"]),
    ]
    # A late contact bridges them: b's journey is superseded, a's grows.
    assert emitted(book.apply_contacts([contact("x", 4 * DAY)])) == [
        ("b", 2, True, ["b"]),
        ("a", 2, False, ["a", "x", "b"]),
    ]
    # A new version of a contact that changes nothing a journey shows emits nothing ...
    assert book.apply_contacts([contact("x", 4 * DAY, nps=9)]) == []
    # ... one that does emits a new version.
    changed = contact("b", 9 * DAY, disposition="escalated")
    [record] = book.apply_contacts([changed])
    assert (record.version, record.facts.last_disposition) == (3, "escalated")
    data = json.loads(json.dumps(record.to_dict()))
    assert data["version"] == 3 and data["superseded"] is False
    assert JourneyRecord.from_dict(data) == record


def test_book_rebuilds_customers_after_an_identity_merge(ev, json_store):
    graph = IdentityGraph(json_store(), max_accounts=1)
    book = JourneyBook(json_store(), graph.customer_key, W)
    by_phone = contact("p", 0, channel="voice", customer_ids=["phone:1"])
    by_mail = contact("m", DAY, channel="email", customer_ids=["email:1"])
    assert emitted(book.apply_contacts([by_phone, by_mail])) == [
        ("p", 1, False, ["p"]),
        ("m", 1, False, ["m"]),
    ]
    [audit] = graph.link(ev("identity.linked", DAY, customer_ids=["email:1", "phone:1"]))
    records = book.apply_identity("acme", audit["affected_keys"])
    assert emitted(records) == [("m", 2, True, ["m"]), ("p", 2, False, ["p", "m"])]
    assert records[1].facts.customer_key == "email:1"
    assert records[1].facts.channels == ["voice", "email"]


def test_book_files_contacts_without_a_customer_apart():
    book = JourneyBook({}, lambda tenant, ids: None, W)
    records = book.apply_contacts([contact("a", 0), contact("b", 10)])
    assert [(r.facts.customer_key, r.facts.contact_ids) for r in records] == [
        ("anonymous:a", ["a"]),
        ("anonymous:b", ["b"]),
    ]


def test_book_moves_a_contact_whose_customer_changed():
    keys = {"customer_id:a": "K1", "customer_id:b": "customer_id:b"}
    book = JourneyBook({}, lambda tenant, ids: keys[ids[0]], W, per_channel=True)
    book.apply_contacts([contact("a", 0), contact("b", DAY, customer_ids=["customer_id:b"])])
    keys["customer_id:b"] = "K1"
    records = book.apply_contacts([contact("b", DAY, customer_ids=["customer_id:b"], nps=1)])
    assert emitted(records) == [("b", 2, True, ["b"]), ("a", 2, False, ["a", "b"])]
    assert book.store["k|acme|b"] == "K1"
    assert "c|acme|customer_id:b" not in book.store


def test_book_loads_every_customer_a_contact_moves_into():
    keys = {"customer_id:a": "K1", "customer_id:b": "K1", "customer_id:c": "K3"}
    book = JourneyBook({}, lambda tenant, ids: keys[ids[0]], W)
    book.apply_contacts(
        [
            contact("a", 0),
            contact("b", DAY, customer_ids=["customer_id:b"]),
            contact("c", 2 * DAY, customer_ids=["customer_id:c"]),
        ]
    )
    keys["customer_id:b"] = "K3"  # identity changed, and no audit named K3
    records = book.apply_contacts([contact("a", 0, nps=10)])
    assert emitted(records) == [
        ("c", 2, True, ["c"]),
        ("a", 2, False, ["a"]),
        ("b", 1, False, ["b", "c"]),
    ]
    assert sorted(book.store["c|acme|K3"]["contacts"]) == ["b", "c"]
    assert sorted(book.store["c|acme|K1"]["contacts"]) == ["a"]


# -- retention ------------------------------------------------------------------------------

RETAIN = W + 3 * DAY


def by_customer(tenant, ids):
    return ids[0] if ids else None


def test_customers_are_pruned_once_their_last_contact_ended_the_retention_ago(json_store):
    store = json_store()
    book = JourneyBook(store, by_customer, W, retention_seconds=RETAIN)
    old = contact("old", 0, end=600, customer_ids=["customer_id:old"])
    book.apply_contacts([old, contact("a", 0, customer_ids=["customer_id:a"])])
    book.apply_contacts([contact("a2", 5 * DAY, customer_ids=["customer_id:a"])])

    book.apply_contacts([contact("x", RETAIN, end=RETAIN + 599.999, customer_ids=["x"])])
    assert "c|acme|customer_id:old" in store  # a millisecond short
    book.apply_contacts([contact("y", RETAIN, customer_ids=["y"])])  # the clock reaches 600 + R

    assert book.pruned == 1
    assert not any("old" in key for key in store)  # contacts, filing and journey version
    # "a" has a contact within the retention: its journey is whole.
    assert store["c|acme|customer_id:a"]["journeys"]["a"]["contact_ids"] == ["a", "a2"]
    assert store["v|acme|a"] == 2


def test_a_contact_within_the_repeat_window_still_joins_and_versions_keep_growing(json_store):
    store = json_store()
    book = JourneyBook(store, by_customer, W, retention_seconds=RETAIN)
    book.apply_contacts([contact("a", 0)])
    book.apply_contacts([contact("other", RETAIN - 1, customer_ids=["other"])])

    [record] = book.apply_contacts([contact("b", 600 + W)])  # exactly W after a ended

    assert (record.facts.contact_ids, record.version) == (["a", "b"], 2)


def test_a_record_of_an_unknown_contact_older_than_the_horizon_is_not_filed(json_store):
    store = json_store()
    book = JourneyBook(store, by_customer, W, retention_seconds=RETAIN)
    book.apply_contacts([contact("a", 0)])
    book.apply_contacts([contact("later", 2 * RETAIN, customer_ids=["later"])])
    assert "k|acme|a" not in store

    # A new version of the pruned contact (a late survey): filing it alone would publish a
    # journey "a" of version 1 over the real one.
    assert book.apply_contacts([contact("a", 0, nps=3)]) == []
    assert book.too_late == 1 and "k|acme|a" not in store


def test_a_restarted_book_finds_what_to_prune_in_its_store(json_store):
    store = json_store()
    JourneyBook(store, by_customer, W, retention_seconds=RETAIN).apply_contacts(
        [contact("a", 0), contact("b", DAY, customer_ids=["b"])]
    )

    restarted = JourneyBook(store, by_customer, W, retention_seconds=RETAIN)
    assert restarted.clocks == {None: (T0 + DAY + 600) * 1000}
    restarted.apply_contacts([contact("c", RETAIN + 600, customer_ids=["c"])])

    assert restarted.pruned == 1
    assert sorted(k for k in store if k.startswith("c|")) == ["c|acme|b", "c|acme|c"]


def test_imported_history_far_behind_the_live_clock_is_filed_and_pruned_by_its_lane(json_store):
    """Last year's export loaded into a deployment whose live contacts moved the clock to today:
    the imported contacts get their journeys (their lane's clock judges them), and are pruned
    once that lane's clock, not the live one, passes their retention."""
    store = json_store()
    book = JourneyBook(store, by_customer, W, retention_seconds=RETAIN)
    book.apply_contacts([contact("live", 400 * DAY, customer_ids=["live"])])
    lane = {"h1": "csv", "h2": "csv", "h3": "csv"}

    first = book.apply_contacts(
        [contact("h1", 0, customer_ids=["old"]), contact("h2", DAY, customer_ids=["old"])], lane
    )

    assert book.too_late == 0 and book.pruned == 0
    assert [(r.facts.contact_ids, r.version) for r in first] == [(["h1", "h2"], 1)]
    assert store["c|acme|old"]["lanes"] == {"h1": "csv", "h2": "csv"}
    assert book.clocks == {
        None: (T0 + 400 * DAY + 600) * 1000,
        ("acme", "csv"): (T0 + DAY + 600) * 1000,
    }
    # The same history without its lane is too late for the live clock, as before lanes.
    assert book.apply_contacts([contact("h9", 0, customer_ids=["nine"])]) == []
    assert book.too_late == 1

    # The import's clock moves past the retention of "old": pruned; the live customer stays.
    book.apply_contacts([contact("h3", RETAIN + 2 * DAY, customer_ids=["new"])], lane)
    assert book.pruned == 1
    assert sorted(k for k in store if k.startswith("c|")) == ["c|acme|live", "c|acme|new"]

    # A restarted book reads the lanes' clocks back and judges each customer by its own lane.
    restarted = JourneyBook(store, by_customer, W, retention_seconds=RETAIN)
    assert restarted.clocks == book.clocks
    restarted.apply_contacts(
        [contact("h4", 2 * RETAIN + 3 * DAY, customer_ids=["x"])], {"h4": "csv"}
    )
    assert restarted.pruned == 1 and "c|acme|new" not in store and "c|acme|live" in store


def test_a_customer_is_judged_by_the_lane_of_its_latest_contact(json_store):
    store = json_store()
    book = JourneyBook(store, by_customer, W, retention_seconds=RETAIN)
    book.apply_contacts([contact("h1", 0, customer_ids=["c"])], {"h1": "csv"})
    book.apply_contacts([contact("l1", 5 * DAY, customer_ids=["c"])])  # then a live contact
    # The import's clock passes the retention of its own contact: the customer stays, its
    # latest contact is live and the live clock has not passed it.
    book.apply_contacts([contact("h2", RETAIN + DAY, customer_ids=["z"])], {"h2": "csv"})
    assert book.pruned == 0
    assert store["c|acme|c"]["journeys"]["h1"]["contact_ids"] == ["h1", "l1"]
    book.apply_contacts([contact("l2", RETAIN + 6 * DAY, customer_ids=["y"])])
    assert book.pruned == 1 and "c|acme|c" not in store


def test_a_state_written_without_its_latest_contact_still_loads_and_expires(json_store):
    """A changelog written before states kept ``latest`` (or an erasure that dropped it)."""
    store = json_store()
    JourneyBook(store, by_customer, W, retention_seconds=RETAIN).apply_contacts(
        [contact("a", 0), contact("b", DAY, customer_ids=["b"])]
    )
    for key in [k for k in store if k.startswith("c|")]:
        store[key] = {name: v for name, v in store[key].items() if name != "latest"}

    restarted = JourneyBook(store, by_customer, W, retention_seconds=RETAIN)
    [record] = restarted.apply_contacts([contact("a2", 2 * DAY)])
    assert (record.facts.contact_ids, record.version) == (["a", "a2"], 2)
    assert store["c|acme|customer_id:a"]["latest"] == [(T0 + 2 * DAY + 600) * 1000, "a2"]
    restarted.apply_contacts([contact("c", RETAIN + DAY + 600, customer_ids=["c"])])
    assert restarted.pruned == 1 and "c|acme|b" not in store
    assert "c|acme|customer_id:a" in store


def test_without_a_retention_nothing_is_pruned(json_store):
    store = json_store()
    book = JourneyBook(store, by_customer, W)
    book.apply_contacts([contact("a", 0), contact("b", 100 * DAY, customer_ids=["b"])])
    assert "c|acme|customer_id:a" in store and book.pruned == 0


# -- the incremental book against the definition ---------------------------------------------


class IdentityModel:
    """Sets of identifiers keyed by their smallest member, as identity stitching keys them."""

    def __init__(self, identifiers):
        self.set_of = {i: {i} for i in identifiers}

    def key(self, tenant, ids):
        return min((min(self.set_of[i]) for i in ids), default=None)

    def merge(self, a, b):
        joined = self.set_of[a] | self.set_of[b]
        for i in joined:
            self.set_of[i] = joined

    def split(self, identifier):
        rest = self.set_of[identifier] - {identifier}
        for i in rest:
            self.set_of[i] = rest
        self.set_of[identifier] = {identifier}


def random_contact(rng, cid, now):
    """A contact of any shape around ``now`` (late ones too), its times unique to the ms."""
    late = rng.randint(-12 * 86400, 3600) if rng.random() < 0.95 else -20 * 86400
    start = now + late + rng.randint(0, 999) / 1000
    end = start + rng.choice([60, 600, 3 * 3600, 2 * 86400]) + rng.randint(0, 999) / 1000
    answered = rng.random() < 0.7
    return contact(
        cid,
        start - T0,
        end=end - T0,
        channel=rng.choice(["voice", "email", "chat"]),
        direction=rng.choice(["inbound"] * 6 + ["outbound", None]),
        customer_ids=rng.sample(IDENTIFIERS, rng.choice([0, 1, 1, 1, 2])),
        answered_at=at(start + 20 - T0) if answered else None,
        first_queued_at=at(start + 5 - T0) if rng.random() < 0.9 else None,
        short_abandon=not answered and rng.random() < 0.3,
        deflected=rng.random() < 0.05,
        disposition=rng.choice(["resolved", "follow_up", None]),
        resolvable_in_one_contact=rng.random() < 0.8,
    )


IDENTIFIERS = [f"customer_id:{c}" for c in "abcdefg"] + ["phone:1", "phone:2"]


def end_ms(c):
    return parse_rfc3339(c.wrapped_up_at) * 1000


@pytest.mark.parametrize(("seed", "per_channel"), [(1, False), (2, True), (3, False)])
def test_incremental_book_matches_rebuilding_every_customer_from_the_definition(
    seed, per_channel, json_store
):
    """Random contact records (new, new versions, late, imported), identity merges and splits
    and retention: after every step, every customer's stored journeys are ``build_journeys`` of
    its stored contacts, every contact is filed under the key identity gives it, and the
    records emitted are what rebuilding every customer from scratch would emit: the new and
    changed journeys and the superseded ones, in order, with their versions."""
    rng = random.Random(seed)
    window, retain = 3 * DAY, 15 * DAY
    identity = IdentityModel(IDENTIFIERS)
    store = json_store()
    book = JourneyBook(
        store, identity.key, window, per_channel=per_channel, retention_seconds=retain
    )
    contacts = {}  # contact id -> latest version filed
    importer = {}  # contact id -> its import's name, for the imported ones
    clocks = {}  # lane -> latest end filed (ms)
    versions = {}  # journey id -> last version emitted
    seen = {"moved": 0, "too_late": 0, "pruned": 0, "superseded": 0}

    def key_of(c):
        key = identity.key("acme", c.customer_ids)
        return key if key is not None else "anonymous:" + c.contact_id

    def customers():
        grouped = {}
        for c in contacts.values():
            grouped.setdefault(key_of(c), []).append(c)
        return grouped

    def all_journeys():
        return {
            j.journey_id: j
            for key, members in customers().items()
            for j in build_journeys(members, window, key, per_channel=per_channel)
        }

    def check(records, before):
        after = all_journeys()
        changed, superseded = diff_journeys(
            dict(sorted(before.items(), key=lambda i: _journey_order(i[1]))),
            sorted(after.values(), key=_journey_order),
        )
        expected = []
        for journey, gone in [*((j, True) for j in superseded), *((j, False) for j in changed)]:
            versions[journey.journey_id] = versions.get(journey.journey_id, 0) + 1
            expected.append((journey, versions[journey.journey_id], gone))
        assert [(r.facts, r.version, r.superseded) for r in records] == expected
        seen["superseded"] += len(superseded)
        # What retention dropped: whole customers, due by their lane's clock.
        for key, members in customers().items():
            if f"c|acme|{key}" not in store:
                latest = max(members, key=end_ms)
                lane = (
                    ("acme", importer[latest.contact_id]) if latest.contact_id in importer else None
                )
                assert end_ms(latest) + retain * 1000 <= clocks[lane]
                for c in members:
                    del contacts[c.contact_id]
                    importer.pop(c.contact_id, None)
                for j in build_journeys(members, window, key, per_channel=per_channel):
                    versions.pop(j.journey_id, None)
                seen["pruned"] += 1
        stored = {k[len("c|acme|") :]: v for k, v in store.items() if k.startswith("c|")}
        assert {k: sorted(v["contacts"]) for k, v in stored.items()} == {
            k: sorted(c.contact_id for c in m) for k, m in customers().items()
        }
        for key, state in stored.items():
            facts = [ContactFacts(**f) for f in state["contacts"].values()]
            assert facts == [contacts[c.contact_id] for c in facts]
            rebuilt = build_journeys(facts, window, key, per_channel=per_channel)
            assert list(state["journeys"].values()) == [vars(j) for j in rebuilt]
            assert state.get("lanes", {}) == {
                c: importer[c] for c in state["contacts"] if c in importer
            }
            latest = max(facts, key=end_ms)
            assert state["latest"] == [end_ms(latest), latest.contact_id]
            for cid in state["contacts"]:
                assert store[f"k|acme|{cid}"] == key

    now = T0 + 30 * DAY
    for _ in range(250):
        before = all_journeys()
        if rng.random() < 0.25:  # identity changes, and the customers it moves are re-grouped
            keys_before = {cid: key_of(c) for cid, c in contacts.items()}
            if rng.random() < 0.6:
                identity.merge(*rng.sample(IDENTIFIERS, 2))
            else:
                identity.split(rng.choice(IDENTIFIERS))
            moved = {cid for cid, c in contacts.items() if key_of(c) != keys_before[cid]}
            seen["moved"] += len(moved)
            keys = {keys_before[cid] for cid in moved} | {key_of(contacts[cid]) for cid in moved}
            check(book.apply_identity("acme", sorted(keys)), before)
            continue
        now += rng.randint(0, 6 * 3600)
        lane = "csv" if rng.random() < 0.15 else None  # an import of last month's contacts
        batch = {}
        for _ in range(rng.randint(1, 4)):
            cid = f"c{rng.randint(0, 60)}" if rng.random() < 0.7 else f"n{rng.randint(0, 10**6)}"
            batch[cid] = random_contact(rng, cid, now - 40 * DAY if lane else now)
        horizons = {k: v - retain * 1000 for k, v in clocks.items()}
        for cid, c in batch.items():
            lane_key = None if lane is None else ("acme", lane)
            if cid not in contacts and end_ms(c) <= horizons.get(lane_key, -math.inf):
                seen["too_late"] += 1
                continue
            clocks[lane_key] = max(clocks.get(lane_key, -math.inf), end_ms(c))
            contacts[cid] = c
            if lane:
                importer[cid] = lane
        records = book.apply_contacts(batch.values(), dict.fromkeys(batch, lane) if lane else None)
        assert book.too_late == seen["too_late"]
        check(records, before)
    assert all(count > 5 for count in seen.values()), seen


def test_of_two_imported_contacts_ending_at_once_the_newer_filed_judges_the_customer(json_store):
    """Equal ends, both imported: the customer's lane is that of the contact filed last (it
    comes first in the stored state), as when every contact's end was looked at again."""
    store = json_store()
    book = JourneyBook(store, by_customer, W, retention_seconds=RETAIN)
    book.apply_contacts([contact("h1", 0, customer_ids=["c"])], {"h1": "csv"})
    book.apply_contacts([contact("h2", 300, end=600, customer_ids=["c"])], {"h2": "crm"})
    book.apply_contacts([contact("x", RETAIN + DAY, customer_ids=["x"])], {"x": "csv"})
    assert book.pruned == 0  # the csv lane's clock does not judge it
    book.apply_contacts([contact("y", RETAIN + DAY, customer_ids=["y"])], {"y": "crm"})
    assert book.pruned == 1 and "c|acme|c" not in store
