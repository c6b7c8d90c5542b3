"""The materialised latest versions (warehouse/materialize.py): incremental per lake day, and
always what the window over every raw version gives (no broker)."""

from __future__ import annotations

import random
from datetime import date, datetime
from pathlib import Path

import duckdb

from schemas.settings import Settings
from tests.warehouse.lakes import LANDED_MS, lake_settings, land
from tests.warehouse.test_warehouse_models import contact, event, journey, state
from warehouse.build import build_warehouse, connect_read_only, materialise_latest
from warehouse.tables import CONTACT_VERSIONS, CUSTOMER_KEYS, EVENTS, JOURNEY_VERSIONS

DAY_MS = 86_400_000

# The definitions the int_* views had before materialisation: a window over every raw version.
FROM_RAW = {
    "int_contacts": """with latest as (
            select * from stg_contact_versions
            qualify row_number() over (partition by contact_id
                order by version desc, _kafka_timestamp desc, _kafka_offset desc) = 1
        ),
        keys as (
            select * from stg_customer_keys
            qualify row_number() over (partition by tenant, identifier
                order by version desc, _kafka_timestamp desc, _kafka_offset desc) = 1
        ),
        contact_keys as (
            select latest.contact_id, min(keys.customer_key) as customer_key
            from latest, unnest(latest.customer_ids) as ids (identifier)
            inner join keys on keys.tenant = latest.tenant and keys.identifier = ids.identifier
            group by latest.contact_id
        )
        select contact_id, version, disposition, customer_key, cast(started_at as date)
        from latest left join contact_keys using (contact_id)""",
    "int_events": """select event_id, coalesce(contact_id, agent_id) as routed, _kafka_offset
        from stg_events qualify row_number() over (
            partition by event_id, coalesce(contact_id, agent_id)
            order by ts, _kafka_timestamp, _kafka_partition, _kafka_offset) = 1""",
    "int_agent_state_spans": """with firsts as (
            select * from stg_events qualify row_number() over (
                partition by event_id, coalesce(contact_id, agent_id)
                order by ts, _kafka_timestamp, _kafka_partition, _kafka_offset) = 1
        )
        select agent_id, state, occurred_at, next_at, epoch(next_at) - epoch(occurred_at),
            cast(occurred_at as date)
        from (
            select *, attributes ->> 'state' as state, lead(occurred_at) over (
                partition by tenant, agent_id order by occurred_at, event_id) as next_at
            from firsts
            where event_type = 'agent.state_changed' and agent_id is not null
        )
""",
    "int_journeys": """select journey_id, version, cast(first_started_at as date)
        from stg_journey_versions
        qualify row_number() over (partition by tenant, journey_id
            order by version desc, _kafka_timestamp desc, _kafka_offset desc) = 1
        and not coalesce(superseded, false)""",
}
MATERIALISED = {
    "int_contacts": """select contact_id, version, disposition, customer_key, started_day
        from int_contacts""",
    "int_events": "select event_id, coalesce(contact_id, agent_id), _kafka_offset from int_events",
    "int_journeys": "select journey_id, version, first_started_day from int_journeys",
    "int_agent_state_spans": """select agent_id, state, started_at, ended_at, seconds, "day"
        from int_agent_state_spans""",
}


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return sorted(con.execute(sql).fetchall(), key=repr)


def test_a_contact_whose_versions_span_days_keeps_its_latest_version(tmp_path: Path) -> None:
    settings = lake_settings(tmp_path)
    # Version 1 has no time of its own: it lands under its Kafka day (5 January); version 2,
    # with its start, under 3 January. Then version 3 comes back to the Kafka day.
    land(settings, CONTACT_VERSIONS, [contact("c1", 1, disposition="unresolved")])
    start = "2026-01-03T10:00:00.000Z"
    land(
        settings,
        CONTACT_VERSIONS,
        [contact("c1", 2, started_at=start, disposition="escalated")],
        first_offset=1,
    )
    build_warehouse(settings)
    with connect_read_only(settings) as con:
        assert _rows(con, MATERIALISED["int_contacts"]) == [
            ("c1", 2, "escalated", None, date(2026, 1, 3))
        ]
        assert con.execute("select count(*) from mat_contact_versions").fetchone() == (1,)

    land(settings, CONTACT_VERSIONS, [contact("c1", 3, disposition="resolved")], first_offset=2)
    build_warehouse(settings)
    with connect_read_only(settings) as con:
        assert _rows(con, MATERIALISED["int_contacts"]) == [("c1", 3, "resolved", None, None)]


def test_only_the_changed_lake_days_are_recomputed(tmp_path: Path) -> None:
    settings = lake_settings(tmp_path)
    for offset, day in enumerate(("05", "06", "07")):
        land(
            settings,
            EVENTS,
            [event(f"e{day}", "contact.started", f"2026-01-{day}T09:00:00.000Z", contact_id="c")],
            first_offset=offset,
        )
    assert materialise_latest(settings).days["mat_events"] == [
        "2026-01-05",
        "2026-01-06",
        "2026-01-07",
    ]
    assert materialise_latest(settings).total_days == 0  # nothing landed since
    land(
        settings,
        EVENTS,
        [event("e6b", "contact.ended", "2026-01-06T10:00:00.000Z", contact_id="c")],
        first_offset=3,
    )
    assert materialise_latest(settings).days == {
        "mat_contact_versions": [],
        "mat_events": ["2026-01-06"],
        "mat_journey_versions": [],
        "mat_customer_keys": [],
        "mat_agent_state_spans": ["2026-01-06"],
    }


def test_state_spans_recompute_a_changed_day_and_the_earlier_days_it_cuts_short(
    tmp_path: Path,
) -> None:
    settings = lake_settings(tmp_path)
    spans = MATERIALISED["int_agent_state_spans"]
    t = datetime
    land(
        settings,
        EVENTS,
        [
            state("s1", "a1", "available", "2026-01-05T22:00:00.000Z"),
            state("s2", "a1", "busy", "2026-01-07T08:00:00.000Z"),
            state("s9", "a2", "busy", "2026-01-08T08:00:00.000Z"),
        ],
    )
    build_warehouse(settings)
    # A late change of the 6th: that day, and the 5th whose last span it now ends; not the 7th
    # or the 8th (a day's spans never depend on an earlier day).
    land(
        settings, EVENTS, [state("s3", "a1", "offline", "2026-01-06T03:00:00.000Z")], first_offset=3
    )
    assert materialise_latest(settings).days["mat_agent_state_spans"] == [
        "2026-01-05",
        "2026-01-06",
    ]
    build_warehouse(settings)
    with connect_read_only(settings) as con:
        assert _rows(con, spans + " where agent_id = 'a1'") == [
            ("a1", "available", t(2026, 1, 5, 22), t(2026, 1, 6, 3), 18000.0, date(2026, 1, 5)),
            ("a1", "busy", t(2026, 1, 7, 8), None, None, date(2026, 1, 7)),
            ("a1", "offline", t(2026, 1, 6, 3), t(2026, 1, 7, 8), 104400.0, date(2026, 1, 6)),
        ]
    # An earlier copy of s3 on the 4th wins: the 6th's file is unchanged but its row is now
    # superseded, so the 6th is recomputed too (and the 5th, which it ended).
    land(
        settings, EVENTS, [state("s3", "a1", "offline", "2026-01-04T12:00:00.000Z")], first_offset=4
    )
    assert materialise_latest(settings).days["mat_agent_state_spans"] == [
        "2026-01-04",
        "2026-01-05",
        "2026-01-06",
    ]
    build_warehouse(settings)
    with connect_read_only(settings) as con:
        assert _rows(con, spans) == _rows(con, FROM_RAW["int_agent_state_spans"])
        assert _rows(con, spans + " where agent_id = 'a1'") == [
            ("a1", "available", t(2026, 1, 5, 22), t(2026, 1, 7, 8), 122400.0, date(2026, 1, 5)),
            ("a1", "busy", t(2026, 1, 7, 8), None, None, date(2026, 1, 7)),
            ("a1", "offline", t(2026, 1, 4, 12), t(2026, 1, 5, 22), 122400.0, date(2026, 1, 4)),
        ]


def test_incremental_builds_always_equal_the_window_over_every_raw_version(
    tmp_path: Path,
) -> None:
    """Random versions, copies, agent state changes and superseded journeys landed in rounds
    over six days, some without a time of their own (landed under their Kafka day), and
    identifiers whose customer keys change between rounds (merges) or arrive after their
    contacts: after every round's build the materialised int_* views, customer keys and state
    spans included, hold what the window over all raw versions holds."""
    settings = lake_settings(tmp_path)
    rng = random.Random(11)
    versions: dict[str, int] = {}
    offsets = {"contacts": 0, "events": 0, "journeys": 0, "keys": 0}
    key_versions: dict[str, int] = {}
    for _ in range(6):
        kafka_ms = LANDED_MS + rng.randrange(-3, 3) * DAY_MS
        contacts = []
        for _ in range(30):
            cid = f"c{rng.randrange(12)}"
            versions[cid] = versions.get(cid, 0) + rng.choice((1, 1, 0))  # 0: a replayed copy
            day = rng.choice((None, "03", "04", "05", "06"))
            at = {"started_at": f"2026-01-{day}T08:00:00.000Z"} if day else {}
            ids = sorted({f"phone:{rng.randrange(8)}", f"email:{rng.randrange(8)}"})
            facts = {"disposition": str(rng.random()), "customer_ids": ids, **at}
            contacts.append(contact(cid, max(versions[cid], 1), **facts))
        land(
            settings,
            CONTACT_VERSIONS,
            contacts,
            first_offset=offsets["contacts"],
            timestamp_ms=kafka_ms,
        )
        offsets["contacts"] += len(contacts)
        events = [
            event(
                f"e{rng.randrange(15)}",
                "contact.started",
                f"2026-01-0{rng.choice((3, 4, 5))}T0{rng.randrange(10)}:00:00.000Z",
                contact_id=f"c{rng.randrange(3)}",
            )
            for _ in range(20)
        ]
        # Agent state changes on random days, late ones included; a reused event_id is a copy
        # (the first by time wins, perhaps on another day than a copy landed before).
        events += [
            state(
                f"s{rng.randrange(40)}",
                f"a{rng.randrange(3)}",
                rng.choice(("available", "busy", "offline")),
                f"2026-01-0{rng.choice((2, 3, 4, 5, 6))}T{rng.randrange(24):02}:00:00.000Z",
            )
            for _ in range(rng.randrange(12))
        ]
        land(settings, EVENTS, events, first_offset=offsets["events"], timestamp_ms=kafka_ms)
        offsets["events"] += len(events)
        journeys = [
            journey(f"j{rng.randrange(5)}", rng.randrange(1, 6), ["c1"], rng.random() < 0.3)
            for _ in range(8)
        ]
        land(settings, JOURNEY_VERSIONS, journeys, first_offset=offsets["journeys"])
        offsets["journeys"] += len(journeys)
        # Then only keys change: the contacts of days landed before must follow.
        for _ in range(2):
            offsets["keys"] += _land_keys(settings, rng, key_versions, offsets["keys"])
            build_warehouse(settings)
            with connect_read_only(settings) as con:
                for name, sql in MATERIALISED.items():
                    assert _rows(con, sql) == _rows(con, FROM_RAW[name]), name


def _land_keys(
    settings: Settings, rng: random.Random, key_versions: dict[str, int], first: int
) -> int:
    """A batch of customer key versions (merges, hubs, new identifiers); how many."""
    keys = []
    for _ in range(6):
        identifier = f"{rng.choice(('phone', 'email'))}:{rng.randrange(8)}"
        key_versions[identifier] = key_versions.get(identifier, 0) + 1
        customer_key = rng.choice((None, f"k{rng.randrange(4)}"))
        keys.append(
            {
                "tenant": "acme",
                "identifier": identifier,
                "customer_key": customer_key,
                "version": key_versions[identifier],
            }
        )
    land(
        settings,
        CUSTOMER_KEYS,
        keys,
        first_offset=first,
        timestamp_ms=LANDED_MS + rng.randrange(-3, 3) * DAY_MS,
    )
    return len(keys)
