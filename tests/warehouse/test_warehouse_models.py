"""The staging and intermediate SQL on a small hand-made lake (no broker)."""

from __future__ import annotations

import fcntl
import hashlib
import threading
from collections.abc import Iterator
from dataclasses import fields
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from schemas.records import ContactFacts, JourneyFacts
from schemas.settings import Settings
from streams.dead_letters import dead_letter_id, dead_letter_records
from tests.warehouse.lakes import lake_settings, land
from warehouse.build import (
    Model,
    build_lock,
    build_warehouse,
    connect_read_only,
    in_dependency_order,
)
from warehouse.tables import (
    CONTACT_VERSIONS,
    CUSTOMER_KEYS,
    DEAD_LETTERS,
    EVENTS,
    IDENTITY_MERGES,
    JOURNEY_VERSIONS,
)


def contact(contact_id: str, version: int, **facts) -> dict:
    record = ContactFacts(contact_id=contact_id, tenant="acme", channel="voice", **facts)
    return {**record.to_dict(), "version": version}


def journey(journey_id: str, version: int, contact_ids: list[str], superseded=False) -> dict:
    facts = JourneyFacts(
        journey_id=journey_id,
        customer_key="customer_id:11",
        tenant="acme",
        first_contact_id=contact_ids[0],
        first_started_at="2026-01-05T23:30:00.000Z",
        contact_ids=contact_ids,
        channels=["voice"],
        resolved_at_first_contact=len(contact_ids) == 1,
        first_contact_resolvable_in_one_contact=True,
        last_disposition="resolved",
    )
    return {**facts.to_dict(), "version": version, "superseded": superseded}


def event(event_id: str, event_type: str, at: str, **fields) -> dict:
    from schemas.times import parse_rfc3339

    return {
        "event_id": event_id,
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": at,
        "ts": parse_rfc3339(at),
        "tenant": "acme",
        "customer_ids": [],
        "attributes": {},
        **fields,
    }


def state(event_id: str, agent: str, value: str, at: str) -> dict:
    return event(event_id, "agent.state_changed", at, agent_id=agent, attributes={"state": value})


def build_fixture_lake(settings: Settings) -> None:
    # Contacts: c1's versions arrive out of order, in two files.
    c1_facts = {
        "customer_ids": ["email:bb", "phone:aa"],
        "queues": ["billing", "retention"],
        "agents": ["a7"],
    }
    land(
        settings,
        CONTACT_VERSIONS,
        [
            contact(
                "c1", 3, started_at="2026-01-05T23:59:59.500Z", disposition="resolved", **c1_facts
            ),
            contact("c2", 1, started_at="2026-01-06T08:15:00.000Z", customer_ids=["phone:hub"]),
        ],
    )
    land(
        settings,
        CONTACT_VERSIONS,
        [
            contact("c1", 1, started_at="2026-01-05T23:59:59.500Z"),
            contact("c1", 2, started_at="2026-01-05T23:59:59.500Z", queues=["billing"]),
            contact(
                "c3", 1, customer_ids=["phone:unknown"], first_queued_at="2026-01-06T10:00:00.000Z"
            ),
        ],
        first_offset=2,
    )
    land(
        settings,
        CUSTOMER_KEYS,
        [
            {"tenant": "acme", "identifier": "phone:aa", "customer_key": "phone:aa", "version": 1},
            {"tenant": "acme", "identifier": "email:bb", "customer_key": "email:bb", "version": 1},
            {
                "tenant": "acme",
                "identifier": "phone:aa",
                "customer_key": "customer_id:11",
                "version": 2,
            },
            {
                "tenant": "acme",
                "identifier": "email:bb",
                "customer_key": "customer_id:11",
                "version": 2,
            },
            {"tenant": "acme", "identifier": "phone:hub", "customer_key": None, "version": 1},
            {"tenant": "other", "identifier": "phone:aa", "customer_key": "phone:zz", "version": 1},
        ],
    )
    land(
        settings,
        JOURNEY_VERSIONS,
        [
            journey("c1", 1, ["c1"]),
            journey("c1", 2, ["c1"], superseded=True),  # absorbed by another journey
            journey("c5", 2, ["c5", "c6"]),
            journey("c5", 1, ["c5"]),
            journey("c8", 1, ["c8"], superseded=True),
            journey("c8", 2, ["c8", "c9", "c10"]),  # exists again
        ],
    )
    survey = "survey.completed"
    landed_events = [
        event(
            "e1",
            "contact.started",
            "2026-01-05T09:00:00.000Z",
            contact_id="c1",
            attributes={"copy": 1},
        ),
        event(
            "s1",
            survey,
            "2026-01-06T10:00:00.000Z",
            contact_id="c1",
            attributes={"nps": 9, "csat": 5},
        ),
        event(
            "s2",
            survey,
            "2026-01-06T11:00:00.000Z",
            contact_id="c404",
            channel="chat",
            attributes={"ces": 2},
        ),
        event(
            "s1",
            survey,
            "2026-01-06T10:00:00.000Z",
            contact_id="c1",
            attributes={"nps": 9, "csat": 5},
        ),
        # Agent a1 crosses midnight once; a2 stays in one state over a whole day. Out of order.
        state("a1-3", "a1", "offline", "2026-01-06T03:00:00.000Z"),
        state("a1-1", "a1", "available", "2026-01-05T22:00:00.000Z"),
        state("a1-2", "a1", "busy", "2026-01-06T01:30:00.000Z"),
        state("a2-1", "a2", "break", "2026-01-05T23:00:00.000Z"),
        state("a2-2", "a2", "available", "2026-01-07T01:00:00.000Z"),
        event(
            "e1",
            "contact.started",
            "2026-01-05T09:00:00.000Z",
            contact_id="c1",
            attributes={"copy": 2},
        ),
    ]
    land(settings, EVENTS, landed_events, partition=1)
    # A compaction's merged file whose parts still wait out their grace: the same offsets twice.
    land(settings, EVENTS, landed_events[:4], partition=1, first_offset=0)
    dead_letter = dead_letter_records(
        b'{"event_id": "e9", "tenant": "acme", "customer": {"phone": "+33 6 12 34 56 78"}}',
        ["event_type: expected a known event type, got nothing"],
        "omnicx.raw-events",
        2,
        77,
        max_stored_bytes=1 << 20,
    ).analyst
    # The stream replayed a batch after a crash and dead-lettered the same message again; then
    # `omnicx replay-dead-letters` sent it twice and it failed twice more (at other offsets).
    replays = [
        {**dead_letter, "offset": offset, "errors": [f"try {offset}"], "replayed": True}
        for offset in (300, 301)
    ]
    land(settings, DEAD_LETTERS, [dead_letter, dead_letter, *replays])
    land(
        settings,
        IDENTITY_MERGES,
        [
            {
                "action": "merge",
                "tenant": "acme",
                "merged_roots": ["email:bb", "phone:aa"],
                "new_root": "phone:aa",
                "old_keys": ["email:bb", "phone:aa"],
                "new_key": "email:bb",
                "affected_keys": ["email:bb", "phone:aa"],
                "evidence": {
                    "event_id": "e1",
                    "event_type": "identity.linked",
                    "occurred_at": "2026-01-05T09:00:00.000Z",
                    "identifiers": ["email:bb", "phone:aa"],
                },
            }
        ],
    )


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    settings = lake_settings(tmp_path_factory.mktemp("models"))
    build_fixture_lake(settings)
    build_warehouse(settings)
    with connect_read_only(settings) as con:
        yield con


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def test_the_latest_contact_version_wins(warehouse) -> None:
    got = rows(
        warehouse,
        "select contact_id, version, queues, disposition from int_contacts order by contact_id",
    )
    assert got == [
        ("c1", 3, ["billing", "retention"], "resolved"),
        ("c2", 1, [], None),
        ("c3", 1, [], None),
    ]


def test_contacts_carry_their_day_hour_first_queue_agent_and_stitched_customer(warehouse) -> None:
    got = rows(
        warehouse,
        "select contact_id, started_day, started_hour, first_queue, first_agent, customer_key "
        "from int_contacts order by contact_id",
    )
    assert got == [
        ("c1", date(2026, 1, 5), datetime(2026, 1, 5, 23), "billing", "a7", "customer_id:11"),
        ("c2", date(2026, 1, 6), datetime(2026, 1, 6, 8), None, None, None),  # only a hub
        ("c3", None, None, None, None, None),  # no start event; identifier never keyed
    ]


def test_int_contacts_has_every_contact_fact_under_its_own_name(warehouse) -> None:
    columns = {d[0] for d in warehouse.execute("select * from int_contacts limit 0").description}
    facts = {f.name for f in fields(ContactFacts)}
    extra = {"version", "started_day", "started_hour", "first_queue", "first_agent", "customer_key"}
    assert columns == facts | extra


def test_customer_keys_keep_the_latest_key_per_identifier(warehouse) -> None:
    got = rows(warehouse, "select * from int_customer_keys order by tenant, identifier")
    assert got == [
        ("acme", "email:bb", "customer_id:11"),
        ("acme", "phone:aa", "customer_id:11"),
        ("acme", "phone:hub", None),
        ("other", "phone:aa", "phone:zz"),
    ]


def test_superseded_journeys_are_dropped_and_the_latest_version_wins(warehouse) -> None:
    got = rows(
        warehouse,
        "select journey_id, version, contact_ids, contact_count, first_started_day "
        "from int_journeys order by journey_id",
    )
    assert got == [
        ("c5", 2, ["c5", "c6"], 2, date(2026, 1, 5)),
        ("c8", 2, ["c8", "c9", "c10"], 3, date(2026, 1, 5)),
    ]
    columns = {d[0] for d in warehouse.execute("select * from int_journeys limit 0").description}
    assert columns == {f.name for f in fields(JourneyFacts)} | {
        "version",
        "first_started_day",
        "contact_count",
    }


def test_duplicate_event_ids_collapse_to_the_first_copy(warehouse) -> None:
    assert rows(warehouse, "select count(*) from stg_events") == [(10,)]
    got = rows(
        warehouse,
        "select event_id, _kafka_offset, attributes ->> 'copy' from int_events "
        "where event_type = 'contact.started'",
    )
    assert got == [("e1", 0, "1")]
    assert rows(warehouse, "select count(*), count(distinct event_id) from int_events") == [(8, 8)]


def test_agent_state_spans_end_at_the_next_change_and_the_current_state_has_no_end(
    warehouse,
) -> None:
    # kpis.md, occupancy.v1: "a state lasts until the agent's next state change"; the cut at
    # the end of the day is the occupancy mart's, in the tenant's reporting time zone.
    got = rows(
        warehouse,
        "select agent_id, state, day, started_at, ended_at, seconds "
        "from int_agent_state_spans order by agent_id, started_at",
    )
    t = datetime
    assert got == [
        ("a1", "available", date(2026, 1, 5), t(2026, 1, 5, 22), t(2026, 1, 6, 1, 30), 12600.0),
        ("a1", "busy", date(2026, 1, 6), t(2026, 1, 6, 1, 30), t(2026, 1, 6, 3), 5400.0),
        ("a1", "offline", date(2026, 1, 6), t(2026, 1, 6, 3), None, None),
        ("a2", "break", date(2026, 1, 5), t(2026, 1, 5, 23), t(2026, 1, 7, 1), 93600.0),
        ("a2", "available", date(2026, 1, 7), t(2026, 1, 7, 1), None, None),
    ]


def test_surveys_join_their_contact_and_keep_those_without_one(warehouse) -> None:
    got = rows(
        warehouse,
        "select event_id, contact_id, nps, csat, ces, contact_started_day, contact_channel, "
        "contact_queue, contact_agent, has_contact from int_surveys order by event_id",
    )
    assert got == [
        ("s1", "c1", 9, 5, None, date(2026, 1, 5), "voice", "billing", "a7", True),
        ("s2", "c404", None, None, 2, None, None, None, None, False),
    ]


def test_dead_letters_are_redacted_and_keep_their_errors_ids_and_hash(warehouse) -> None:
    got = rows(
        warehouse,
        "select dead_letter_id, source_topic, source_partition, source_offset, errors, raw_size, "
        "raw_sha256, event_id, tenant, redacted_preview, replayed from stg_dead_letters "
        "order by _kafka_offset",
    )
    raw = b'{"event_id": "e9", "tenant": "acme", "customer": {"phone": "+33 6 12 34 56 78"}}'
    first = (
        dead_letter_id("omnicx.raw-events", 2, 77),
        "omnicx.raw-events",
        2,
        77,
        ["event_type: expected a known event type, got nothing"],
        len(raw),
        hashlib.sha256(raw).hexdigest(),
        "e9",
        "acme",
        '{"event_id": "e9", "tenant": "acme", "customer": {"phone": "<redacted>"}}',
        False,
    )
    assert got[:2] == [first, first]
    assert [(r[0], r[3], r[4], r[10]) for r in got[2:]] == [
        (first[0], 300, ["try 300"], True),
        (first[0], 301, ["try 301"], True),
    ]
    columns = {c for (c,) in rows(warehouse, "select column_name from (describe stg_dead_letters)")}
    assert not {"raw_base64", "raw_preview"} & columns


def test_dead_letters_count_once_per_rejected_message(warehouse) -> None:
    got = rows(
        warehouse,
        "select source_offset, errors, rejections, last_errors, replayed from int_dead_letters",
    )
    # Once per message: the crash copy is the same rejection, the replays further rejections.
    assert got == [
        (77, ["event_type: expected a known event type, got nothing"], 3, ["try 301"], False)
    ]


def test_identity_merges_expose_their_evidence(warehouse) -> None:
    got = rows(
        warehouse,
        "select action, new_key, evidence_event_id, evidence_event_type, evidence_occurred_at, "
        "evidence_identifiers from stg_identity_merges",
    )
    assert got == [
        (
            "merge",
            "email:bb",
            "e1",
            "identity.linked",
            datetime(2026, 1, 5, 9),
            ["email:bb", "phone:aa"],
        )
    ]


def test_models_are_created_after_what_they_read() -> None:
    models = [
        Model("int_b", "intermediate", "select * from int_a join stg_x using (id)"),
        Model("int_a", "intermediate", "-- not int_b\nselect * from stg_x"),
        Model("stg_x", "staging", "select 1 as id"),
    ]
    assert [m.name for m in in_dependency_order(models)] == ["stg_x", "int_a", "int_b"]
    with pytest.raises(ValueError, match="cycle"):
        in_dependency_order(
            [Model("a", "x", "select * from b"), Model("b", "x", "select * from a")]
        )


def test_a_fresh_build_keeps_no_byte_of_deleted_rows(tmp_path: Path) -> None:
    settings = lake_settings(tmp_path)
    secret = "erased-customer-" + "".join(chr(97 + (i * 7) % 26) for i in range(48))
    path = build_warehouse(
        settings, marts=lambda con: con.execute(f"create table mart_keys as select '{secret}' as k")
    )
    assert secret.encode() in path.read_bytes()  # stored as it is
    build_warehouse(settings, marts=lambda con: con.execute("delete from mart_keys"))
    build_warehouse(settings, fresh=True)
    assert secret.encode() not in path.read_bytes()
    with connect_read_only(settings) as con:
        assert con.execute("select count(*) from mart_keys").fetchone() == (0,)


def test_a_rebuild_swaps_the_file_keeps_marts_and_spares_open_readers(tmp_path: Path) -> None:
    settings = lake_settings(tmp_path)
    land(settings, EVENTS, [event("e1", "contact.started", "2026-01-05T09:00:00.000Z")])

    def marts(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("create table mart_counts as select count(*) as events from int_events")
        con.execute("create view mart_counts_doubled as select 2 * events as n from mart_counts")
        # a view of an intermediate model since retired, and a view that reads it
        con.execute("create view int_retired as select 1 as x")
        con.execute("create view mart_of_retired as select x from int_retired")

    path = build_warehouse(settings, marts=marts)
    reader = connect_read_only(settings)
    old_inode = path.stat().st_ino
    land(
        settings,
        EVENTS,
        [event("e2", "contact.started", "2026-01-05T10:00:00.000Z")],
        first_offset=1,
    )
    abandoned = path.with_name(f".{path.name}.build-999999999-0000")  # a killed build's file
    abandoned.write_bytes(b"half a database")

    build_warehouse(settings)  # no marts hook: what the last one made stays in the copy

    assert path.stat().st_ino != old_inode
    assert reader.execute("select count(*) from int_events").fetchone() == (2,)  # views are live
    reader.close()
    with connect_read_only(settings) as con:
        assert con.execute("select events from mart_counts").fetchone() == (1,)
        assert con.execute("select n from mart_counts_doubled").fetchone() == (2,)
        views = {name for (name,) in con.execute("select view_name from duckdb_views()").fetchall()}
        assert "int_retired" not in views and "mart_of_retired" not in views
        # the copied file's views and their columns keep (or get back) their comments
        assert (
            con.execute(
                "select count(*), count(comment) from duckdb_columns() where table_name = 'int_events'"
            ).fetchone()
            == (len(con.execute("describe int_events").fetchall()),) * 2
        )
    # no build's temp file is left, only the builds' lock
    hidden = sorted(p.name for p in path.parent.iterdir() if p.name.startswith("."))
    assert hidden == [build_lock(path).name]


def test_two_builds_at_once_keep_what_each_wrote(tmp_path: Path) -> None:
    """Two refreshes at once (the sensor's run and a schedule's, or ``omnicx refresh`` beside
    them): a build holds the file's lock from its copy to its rename, so the other copies the
    file the first published, and neither's marts are lost to the other's rename."""
    settings = lake_settings(tmp_path)
    target = build_warehouse(settings)
    first_in_hook, release_first = threading.Event(), threading.Event()
    lock_free_during_first = []

    def first_marts(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("create table mart_first as select 1 as n")
        with build_lock(target).open("a") as other:
            try:
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
                lock_free_during_first.append(True)
            except BlockingIOError:
                lock_free_during_first.append(False)
        first_in_hook.set()
        release_first.wait()

    def second_marts(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("create table mart_second as select 2 as n")

    first = threading.Thread(target=build_warehouse, args=(settings, first_marts))
    first.start()
    first_in_hook.wait()
    second = threading.Thread(target=build_warehouse, args=(settings, second_marts))
    second.start()
    release_first.set()
    first.join()
    second.join()

    assert lock_free_during_first == [False]
    with connect_read_only(settings) as con:
        tables = {
            name for (name,) in con.execute("select table_name from duckdb_tables()").fetchall()
        }
    assert {"mart_first", "mart_second"} <= tables
