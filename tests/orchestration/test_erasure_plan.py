"""orchestration.erasure.customer_sets: from the identifiers named to every identifier and
customer key of the customers behind them, in the identity graph and the lake."""

from orchestration.erasure import customer_sets

A, B, C, H, X = "phone:a", "email:b", "customer_id:c", "phone:h", "phone:x"
GRAPH = {
    # a's set: a, b and a switchboard h that became a hub; its key is a
    f"acme|{A}": {"root": A, "members": [A, B, H], "key": A},
    f"acme|{B}": {"root": A},
    f"acme|{H}": {"root": A, "hub": True},
}


def test_the_whole_set_without_its_hubs_and_what_the_lake_adds() -> None:
    # the lake knows c joined a's key too (the graph's entry was pruned, say)
    lake = {A: A, B: A, C: A, X: X}
    members = {A: [A, B, C], X: [X]}
    assert customer_sets("acme", {B}, GRAPH, lake, members) == ({A, B, C}, {A})


def test_another_tenant_and_an_unknown_identifier_stay_apart() -> None:
    assert customer_sets("nova", {B}, GRAPH, {}, {}) == ({B}, {B})
    assert customer_sets("acme", {X}, GRAPH, {X: X}, {X: [X]}) == ({X}, {X})
