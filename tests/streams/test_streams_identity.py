import json

from schemas.identifiers import hashed_identifiers
from streams.canonical import canonicalise
from streams.identity import IdentityGraph, node_key

A, B, C = "customer_id:a", "customer_id:b", "customer_id:c"
X = "account_id:x"
PHONE, EMAIL, EMAIL2 = "phone:p", "email:e", "email:f"


def link(ev, graph, ids, event_id="e", tenant="acme", event_type="contact.started"):
    event = ev(event_type, 0, event_id=event_id, tenant=tenant, customer_ids=sorted(ids))
    return graph.link(event)


def test_identifiers_on_one_event_merge_with_an_audited_evidence(ev):
    graph = IdentityGraph({}, max_accounts=1)
    [audit] = link(ev, graph, [PHONE, A], event_id="e1")
    assert graph.root("acme", PHONE) == graph.root("acme", A)
    assert graph.customer_key("acme", [PHONE]) == A
    assert audit == {
        "action": "merge",
        "tenant": "acme",
        "merged_roots": [A, PHONE],
        "new_root": A,
        "old_keys": [A, PHONE],
        "new_key": A,
        "affected_keys": [A, PHONE],
        "evidence": {
            "event_id": "e1",
            "event_type": "contact.started",
            "occurred_at": "2026-01-05T09:00:00.000Z",
            "identifiers": [A, PHONE],
        },
    }


def test_identity_linked_chains_sets_and_key_is_smallest_member(ev):
    graph = IdentityGraph({}, max_accounts=1)
    link(ev, graph, [PHONE, EMAIL])
    link(ev, graph, [EMAIL2, "chat_visitor_id:v"])
    [audit] = link(ev, graph, [EMAIL, EMAIL2], event_type="identity.linked")
    assert audit["evidence"]["event_type"] == "identity.linked"
    assert sorted(audit["merged_roots"]) == audit["merged_roots"]
    assert audit["old_keys"] == ["chat_visitor_id:v", EMAIL]
    assert audit["new_key"] == "chat_visitor_id:v"
    members = graph.members("acme", graph.root("acme", PHONE))
    assert members == sorted([PHONE, EMAIL, EMAIL2, "chat_visitor_id:v"])
    assert {graph.customer_key("acme", [i]) for i in members} == {"chat_visitor_id:v"}


def test_every_member_points_at_its_root_and_the_state_is_json(ev):
    store = {}
    graph = IdentityGraph(store, max_accounts=1)
    link(ev, graph, [PHONE, EMAIL])
    link(ev, graph, ["social_handle:s", "chat_visitor_id:v"])
    link(ev, graph, ["chat_visitor_id:v", EMAIL, A])
    root = graph.root("acme", A)
    for member in graph.members("acme", root):
        assert store[node_key("acme", member)]["root"] == root
    assert json.loads(json.dumps(store)) == store


def test_already_linked_identifiers_produce_no_audit(ev):
    graph = IdentityGraph({}, max_accounts=1)
    link(ev, graph, [PHONE, A])
    assert link(ev, graph, [PHONE, A]) == []
    assert link(ev, graph, [PHONE]) == []


def test_customer_id_and_account_id_count_as_one_account_each_kind(ev):
    graph = IdentityGraph({}, max_accounts=1)
    [audit] = link(ev, graph, [A, X, PHONE])
    assert audit["action"] == "merge"
    assert graph.customer_key("acme", [X]) == X


def test_shared_phone_becomes_a_hub_and_stops_linking(ev, json_store):
    graph = IdentityGraph(json_store(), max_accounts=1)
    link(ev, graph, [PHONE, A], event_id="e1")
    [hub] = link(ev, graph, [PHONE, B], event_id="e2")
    assert hub["action"] == "hub"
    assert hub["accounts"] == [A, B]
    assert hub["evidence"]["identifiers"] == [PHONE]
    assert hub["evidence"]["event_id"] == "e2"
    assert graph.is_hub("acme", PHONE)
    # The merge made before stays; B stays apart; the hub links nothing any more.
    assert graph.root("acme", PHONE) == graph.root("acme", A)
    assert graph.root("acme", B) == B
    assert link(ev, graph, [PHONE, EMAIL], event_id="e3") == []
    assert graph.root("acme", EMAIL) == EMAIL
    # Contacts known by the hub alone are anonymous; with an account they go to it.
    assert graph.customer_key("acme", [PHONE]) is None
    assert graph.customer_key("acme", [PHONE, B]) == B
    assert graph.customer_key("acme", [PHONE, A]) == A


def test_hub_that_was_the_key_changes_the_key(ev, json_store):
    visitor = "chat_visitor_id:v"  # sorts before customer_id: the key of its set
    graph = IdentityGraph(json_store(), max_accounts=1)
    link(ev, graph, [visitor, A])
    assert graph.customer_key("acme", [A]) == visitor
    [hub] = link(ev, graph, [visitor, B])
    assert (hub["old_keys"], hub["new_key"]) == ([visitor], A)
    assert hub["affected_keys"] == [visitor, A]
    assert graph.customer_key("acme", [A]) == A
    assert graph.customer_key("acme", [visitor]) is None


def test_a_new_identifier_between_two_accounts_is_a_hub_alone_without_key(ev):
    graph = IdentityGraph({}, max_accounts=1)
    [hub, refused] = link(ev, graph, [PHONE, A, B])
    assert hub["action"] == "hub" and refused["action"] == "refused"
    assert (hub["old_keys"], hub["new_key"], hub["affected_keys"]) == ([PHONE], None, [PHONE])
    assert graph.set_key("acme", PHONE) is None
    assert graph.customer_key("acme", [PHONE]) is None
    assert graph.root("acme", A) != graph.root("acme", B)


def test_more_accounts_allowed_with_a_higher_limit(ev):
    graph = IdentityGraph({}, max_accounts=2)
    link(ev, graph, [PHONE, A])
    [audit] = link(ev, graph, [PHONE, B])
    assert audit["action"] == "merge"
    assert graph.root("acme", A) == graph.root("acme", B)
    [hub] = link(ev, graph, [PHONE, C])
    assert hub["action"] == "hub"
    assert hub["accounts"] == [A, B, C]


def test_two_accounts_on_one_event_are_refused_not_hubbed(ev):
    graph = IdentityGraph({}, max_accounts=1)
    [refused] = link(ev, graph, [A, B], event_type="identity.linked")
    assert refused["action"] == "refused"
    assert refused["accounts"] == [A, B]
    assert refused["affected_keys"] == []
    assert not graph.is_hub("acme", A) and not graph.is_hub("acme", B)
    assert graph.root("acme", A) != graph.root("acme", B)


def test_only_the_bridging_identifier_becomes_a_hub(ev):
    graph = IdentityGraph({}, max_accounts=1)
    link(ev, graph, [PHONE, A])
    audits = link(ev, graph, [PHONE, EMAIL, B])
    assert [a["action"] for a in audits] == ["hub", "merge"]
    assert audits[0]["evidence"]["identifiers"] == [PHONE]
    assert graph.root("acme", EMAIL) == graph.root("acme", B)
    assert not graph.is_hub("acme", EMAIL)


def test_two_sets_with_different_accounts_never_merge(ev):
    graph = IdentityGraph({}, max_accounts=1)
    link(ev, graph, [PHONE, A])
    link(ev, graph, [EMAIL, B])
    audits = link(ev, graph, [PHONE, EMAIL])
    assert sorted(a["evidence"]["identifiers"][0] for a in audits) == [EMAIL, PHONE]
    assert {a["action"] for a in audits} == {"hub"}
    assert graph.root("acme", A) != graph.root("acme", B)


def test_tenants_never_link(ev):
    graph = IdentityGraph({}, max_accounts=1)
    link(ev, graph, [PHONE, A], tenant="acme")
    link(ev, graph, [PHONE, B], tenant="globex")
    assert not graph.is_hub("acme", PHONE)
    assert graph.customer_key("acme", [PHONE]) == A
    assert graph.customer_key("globex", [PHONE]) == B


def test_junk_identifiers_never_link_people():
    graph = IdentityGraph({}, max_accounts=1)
    for event_id, email in (("e1", "one@example.com"), ("e2", "two@example.com")):
        raw = {
            "event_id": event_id,
            "event_type": "contact.started",
            "schema_version": 1,
            "occurred_at": "2026-01-05T09:00:00Z",
            "tenant": "acme",
            "customer": {"phone": "anonymous", "email": email, "customer_id": "0000"},
        }
        assert graph.link(canonicalise(raw, "k")) == []
    one = hashed_identifiers({"email": "one@example.com"}, "k")
    two = hashed_identifiers({"email": "two@example.com"}, "k")
    assert graph.customer_key("acme", one) != graph.customer_key("acme", two)


def test_union_by_size_relinks_the_smaller_set(ev):
    store = {}
    graph = IdentityGraph(store, max_accounts=1)
    link(ev, graph, ["phone:1", "email:1", "chat_visitor_id:1"])
    big_root = graph.root("acme", "phone:1")
    [audit] = link(ev, graph, ["social_handle:9", "phone:1"])
    assert audit["new_root"] == big_root
    assert store[node_key("acme", "social_handle:9")] == {"root": big_root}


def test_a_lagging_replica_does_not_reflect_an_audit_until_it_catches_up(ev):
    writer_store = {}
    writer = IdentityGraph(writer_store, max_accounts=1)
    replica_store = {}
    replica = IdentityGraph(replica_store, max_accounts=1)
    [merge] = link(ev, writer, [PHONE, A])
    [hub] = link(ev, writer, [PHONE, B])
    [refused] = link(ev, writer, [A, C])
    assert not replica.reflects(merge) and not replica.reflects(hub)
    assert replica.reflects(refused)
    replica_store.update(writer_store)
    assert replica.reflects(merge) and replica.reflects(hub)
