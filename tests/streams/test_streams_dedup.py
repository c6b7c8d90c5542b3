from streams.dedup import Deduplicator

LATENESS = 100.0


def ids(events):
    return [e["event_id"] for e in events]


def test_duplicates_within_and_across_batches_count_once(ev):
    dedup = Deduplicator({}, LATENESS)
    a, b = ev("contact.started", 0, event_id="a"), ev("contact.queued", 5, event_id="b")
    assert ids(dedup.filter_new([a, b, a])) == ["a", "b"]
    assert ids(dedup.filter_new([b, ev("contact.answered", 9, event_id="c")])) == ["c"]


def test_id_is_remembered_for_the_lateness_then_forgotten(ev):
    store = {}
    dedup = Deduplicator(store, LATENESS)
    first = ev("contact.started", 0, event_id="a")
    dedup.filter_new([first])
    assert store == {first["contact_id"]: {"a": first["ts"] + LATENESS}}
    # The clock reaches exactly ts + lateness: a retry is still a duplicate.
    assert ids(dedup.filter_new([ev("contact.ended", 100, event_id="x"), first])) == ["x"]
    assert "a" in store[first["contact_id"]]
    # Past it, the id is forgotten, and a copy that late is accepted again.
    dedup.filter_new([ev("contact.ended", 100.001, event_id="y")])
    assert "a" not in store[first["contact_id"]]
    assert ids(dedup.filter_new([first])) == ["a"]


def test_late_event_is_remembered_for_a_lateness_after_it_arrived(ev):
    dedup = Deduplicator({}, LATENESS)
    now = ev("contact.started", 1000, event_id="now")
    dedup.filter_new([now])
    late = ev("contact.started", 0, event_id="late")
    assert ids(dedup.filter_new([late])) == ["late"]
    assert dedup.store[late["contact_id"]]["late"] == now["ts"] + LATENESS
    assert ids(dedup.filter_new([ev("contact.ended", 1090, event_id="z"), late])) == ["z"]
    dedup.filter_new([ev("contact.ended", 1101, event_id="w")])
    assert "late" not in dedup.store.get(late["contact_id"], {})


def test_a_bucket_whose_last_id_expired_is_dropped(ev):
    store = {}
    dedup = Deduplicator(store, LATENESS)
    dedup.filter_new([ev("contact.started", 0, event_id="a", contact_id="c1")])
    dedup.filter_new([ev("contact.started", 100.001, event_id="b", contact_id="c2")])
    assert store == {"c2": {"b": ev("contact.started", 100.001)["ts"] + LATENESS}}


def test_expire_counts_forgotten_ids(ev):
    dedup = Deduplicator({}, LATENESS)
    dedup.filter_new([ev("a", 0, event_id="a"), ev("b", 10, event_id="b")])
    dedup.clock.observe(ev("c", 105)["ts"])
    assert dedup.expire() == 1
    assert [set(ids) for ids in dedup.store.values()] == [{"b"}]


def test_restart_from_the_store_resumes_memory_and_clock(ev):
    store = {}
    Deduplicator(store, LATENESS).filter_new([ev("a", 0, event_id="a"), ev("b", 60, event_id="b")])
    restarted = Deduplicator(store, LATENESS)
    assert restarted.clock.now == ev("b", 60)["ts"]
    assert ids(restarted.filter_new([ev("a", 0, event_id="a")])) == []
    restarted.filter_new([ev("c", 150, event_id="c")])
    assert {i for ids in store.values() for i in ids} == {"b", "c"}
