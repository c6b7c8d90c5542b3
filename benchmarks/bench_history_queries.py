"""Benchmark: analyst queries over a year of a 500-agent centre's events, and what keeping the
intermediate layer materialised costs each build. Prints figures; asserts nothing.

A synthetic lake is written straight into Parquet (pyarrow, as ``bench_sink`` does): per day
``--contacts-per-day`` contacts (one version each, a random-looking contact_id as most contact
platforms give) with ``--events-per-contact`` events each, and ``--agents`` agents changing
state ``--changes-per-agent`` times a day. The warehouse is built every ``--build-every`` days
as they land (the intermediate layer's first build is the sum), then one more batch of the last
day lands and the one-day incremental build is timed: its materialisation of the ``mat_*`` day
files and of the agent state spans separately.

Then each query, best of three, wall and CPU seconds, beside the form it replaces over the same
files: ``int_events`` as the view read them before (``where not exists`` against the superseded
rows, which DuckDB turns into a join over every row before any filter), and
``int_agent_state_spans`` as the view was (a window over every state change of the history).

    .venv/bin/python -m benchmarks.bench_history_queries                 # a year: 7 M contacts
    .venv/bin/python -m benchmarks.bench_history_queries --days 30       # to iterate
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from benchmarks.bench_sink import T0_MS, contact_versions, write_days
from schemas.settings import Settings, load_settings, with_overrides
from warehouse import build, state_spans
from warehouse.build import build_warehouse, connect_read_only
from warehouse.materialize import EVENTS_SPEC, SUPERSEDED_FILE
from warehouse.parquet_sql import literal
from warehouse.tables import CONTACT_VERSIONS, EVENTS

DAY_MS = 86_400_000
FIRST_DAY = date(2026, 1, 5)  # T0_MS
CONTACT_EVENTS = np.array(
    ["contact.queued", "contact.offered", "contact.answered", "contact.held", "contact.ended"]
)
STATES = np.array(["available", "busy", "after_contact_work", "break", "offline"])

# The views as they were before, over the same files (the baseline of the same run).
EVENTS_BEFORE = """create temp view int_events_before as
select * exclude (_key_hash) from read_parquet({days}, union_by_name = true) as m
where not exists (
    select 1 from read_parquet({superseded}) as s where {match}
)"""
SPANS_BEFORE = """create temp view int_agent_state_spans_before as
select tenant, agent_id, state, changed_at as started_at, next_changed_at as ended_at,
    epoch(next_changed_at) - epoch(changed_at) as seconds, cast(changed_at as date) as "day"
from (
    select tenant, agent_id, attributes ->> 'state' as state, occurred_at as changed_at,
        lead(occurred_at) over (
            partition by tenant, agent_id order by occurred_at, event_id
        ) as next_changed_at
    from int_events_before
    where event_type = 'agent.state_changed' and agent_id is not null and occurred_at is not null
)"""
CONTACT = "(select min(contact_id) from int_contacts where started_day = date '{day}')"
QUERIES = {
    # Its former form is not rebuilt here: the subquery of the next two (day of int_contacts).
    "contacts of a day by channel": """select channel, count(*) from int_contacts
        where started_day = date '{day}' group by all""",
    "one contact and its events (scalar subquery)": """select e.event_type, e.occurred_at
        from {events} e where e.contact_id = """
    + CONTACT,
    "one contact and its events (join)": """select e.event_type, e.occurred_at
        from {events} e inner join (
            select min(contact_id) as id from int_contacts where started_day = date '{day}'
        ) c on e.contact_id = c.id""",
    "events of a day by type": """select event_type, count(*) from {events}
        where business_day = date '{day}' group by all""",
    "a day's agent state seconds": """select state, count(*), sum(seconds) from {spans}
        where "day" = date '{day}' group by all""",
}


def contact_ids(first: int, count: int) -> pa.Array:
    """Random-looking, unsorted ids (a hash of the number), as contact platforms give UUIDs."""
    return pa.array(
        [
            hashlib.blake2b(str(n).encode(), digest_size=12).hexdigest()
            for n in range(first, first + count)
        ]
    )


def day_of_contacts(first: int, count: int, day: int, rng: np.random.Generator) -> pa.Table:
    table = contact_versions(first, count, rng, day=day)
    return table.set_column(
        table.schema.get_field_index("contact_id"), "contact_id", contact_ids(first, count)
    )


def events_table(columns: dict[str, pa.Array], count: int) -> pa.Table:
    schema = EVENTS.arrow_schema
    arrays = [
        columns[f.name].cast(f.type) if f.name in columns else pa.nulls(count, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def day_of_events(
    contacts: pa.Table,
    first_offset: int,
    per_contact: int,
    agents: int,
    changes: int,
    day: int,
    rng: np.random.Generator,
) -> pa.Table:
    """The contacts' events (every ``per_contact``, 30 s apart from the start) and the day's
    agent state changes, at Kafka offsets from ``first_offset``."""
    n = contacts.num_rows
    started = contacts.column("started_at").combine_chunks().cast(pa.timestamp("ms", tz="UTC"))
    started_ms = started.cast(pa.int64()).to_numpy(zero_copy_only=False)
    at_ms = np.repeat(started_ms, per_contact) + np.tile(np.arange(per_contact) * 30_000, n)
    state_ms = T0_MS + day * DAY_MS + rng.integers(0, DAY_MS, agents * changes)
    at_ms = np.concatenate([at_ms, state_ms])
    total = len(at_ms)
    contact_rows = n * per_contact
    kinds = np.concatenate(
        [
            CONTACT_EVENTS[np.tile(np.arange(per_contact) % len(CONTACT_EVENTS), n)],
            np.full(agents * changes, "agent.state_changed"),
        ]
    )
    agent_of_change = rng.integers(0, agents, agents * changes)
    attributes = np.concatenate(
        [
            np.full(contact_rows, '{"skill": "billing", "priority": 2}'),
            np.char.add(
                np.char.add('{"state": "', STATES[rng.integers(0, len(STATES), agents * changes)]),
                '"}',
            ),
        ]
    )
    offsets = np.arange(first_offset, first_offset + total, dtype=np.int64)
    columns = {
        "event_id": pc.binary_join_element_wise("ev-", pc.cast(pa.array(offsets), pa.string()), ""),
        "event_type": pa.array(kinds),
        "schema_version": pa.array(np.ones(total, dtype=np.int64)),
        "occurred_at": pa.array(at_ms.astype("datetime64[ms]")),
        "ts": pa.array(at_ms / 1000.0),
        "tenant": pa.array(np.full(total, "acme")),
        "channel": pa.array(np.full(total, "voice")),
        "contact_id": pa.concat_arrays(
            [
                pc.take(
                    contacts.column("contact_id").combine_chunks(),
                    pa.array(np.repeat(np.arange(n), per_contact)),
                ),
                pa.nulls(agents * changes, pa.string()),
            ]
        ),
        "agent_id": pa.array(
            np.concatenate(
                [
                    np.char.add("ag-", (np.arange(contact_rows) % agents).astype(str)),
                    np.char.add("ag-", agent_of_change.astype(str)),
                ]
            )
        ),
        "attributes": pa.array(attributes),
        "_kafka_partition": pa.array(np.zeros(total, dtype=np.int32)),
        "_kafka_offset": pa.array(offsets),
        "_kafka_timestamp": pa.array(at_ms.astype("datetime64[ms]")),
    }
    return events_table(columns, total)


def seconds_of(action: Callable[[], object]) -> tuple[float, float, object]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = action()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def timed_materialise(settings: Settings) -> tuple[float, float, float, float]:
    """Wall and CPU seconds of one materialisation: everything, and the state spans' part."""
    spent = [0.0, 0.0]
    refresh = state_spans.refresh

    def timed_refresh(*args: object) -> list[str]:
        wall, cpu, days = seconds_of(lambda: refresh(*args))
        spent[0] += wall
        spent[1] += cpu
        return days  # type: ignore[return-value]

    state_spans.refresh = timed_refresh  # type: ignore[assignment]
    try:
        wall, cpu, _ = seconds_of(lambda: build.materialise_latest(settings))
    finally:
        state_spans.refresh = refresh  # type: ignore[assignment]
    return wall, cpu, spent[0], spent[1]


def land_year(settings: Settings, args: argparse.Namespace) -> None:
    rng = np.random.default_rng(7)
    contacts_first = events_first = 0
    totals = [0.0, 0.0, 0.0, 0.0]
    generated = 0.0
    for day in range(args.days):
        started = time.perf_counter()
        contacts = day_of_contacts(contacts_first, args.contacts_per_day, day, rng)
        write_days(settings, CONTACT_VERSIONS, contacts, contacts_first)
        events = day_of_events(
            contacts,
            events_first,
            args.events_per_contact,
            args.agents,
            args.changes_per_agent,
            day,
            rng,
        )
        write_days(settings, EVENTS, events, events_first)
        contacts_first += contacts.num_rows
        events_first += events.num_rows
        generated += time.perf_counter() - started
        if (day + 1) % args.build_every == 0 or day + 1 == args.days:
            for i, value in enumerate(timed_materialise(settings)):
                totals[i] += value
    print(
        f"lake: {args.days} days, {contacts_first:,} contacts, {events_first:,} events "
        f"(written in {generated:.0f} s)"
    )
    print(
        f"materialisation as the days landed (every {args.build_every} days): "
        f"{totals[0]:.1f} s wall, {totals[1]:.1f} s CPU; of which state spans "
        f"{totals[2]:.1f} s wall, {totals[3]:.1f} s CPU"
    )
    # One more batch of the last day: the one-day incremental build.
    day = args.days - 1
    contacts = day_of_contacts(contacts_first, args.contacts_per_day // 10, day, rng)
    write_days(settings, CONTACT_VERSIONS, contacts, contacts_first)
    events = day_of_events(
        contacts, events_first, args.events_per_contact, args.agents, 1, day, rng
    )
    write_days(settings, EVENTS, events, events_first)
    wall, cpu, spans_wall, spans_cpu = timed_materialise(settings)
    print(
        f"one-day incremental materialisation after a batch of the last day: {wall:.2f} s wall, "
        f"{cpu:.2f} s CPU; of which state spans {spans_wall:.2f} s wall, {spans_cpu:.2f} s CPU"
    )
    wall, cpu, _ = seconds_of(lambda: build_warehouse(settings))
    print(f"warehouse build (nothing left to materialise): {wall:.2f} s wall, {cpu:.2f} s CPU")


def best_of_three(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[float, float, int]:
    runs = []
    for _ in range(3):
        wall, cpu, rows = seconds_of(lambda: con.execute(sql).fetchall())
        runs.append((wall, cpu, len(rows)))  # type: ignore[arg-type]
    return min(runs)


def bench_queries(settings: Settings, days: int, skip_before: bool) -> None:
    day = (FIRST_DAY + timedelta(days=days - 15 if days > 15 else days - 1)).isoformat()
    events_dir = settings.intermediate_dir / EVENTS_SPEC.name
    with connect_read_only(settings) as con:
        con.execute(
            EVENTS_BEFORE.format(
                days=literal(str(events_dir.resolve() / "day=*.parquet")),
                superseded=literal(str(events_dir.resolve() / SUPERSEDED_FILE)),
                match=EVENTS_SPEC.key_match_sql("m", "s"),
            )
        )
        con.execute(SPANS_BEFORE)
        for name, sql in QUERIES.items():
            now = best_of_three(
                con, sql.format(events="int_events", spans="int_agent_state_spans", day=day)
            )
            line = (
                f"{name}: {now[0] * 1000:.0f} ms wall, {now[1] * 1000:.0f} ms CPU ({now[2]} rows)"
            )
            if not skip_before and ("{events}" in sql or "{spans}" in sql):
                before_sql = sql.format(
                    events="int_events_before", spans="int_agent_state_spans_before", day=day
                )
                wall, cpu, _ = seconds_of(lambda sql=before_sql: con.execute(sql).fetchall())
                line += (
                    f"; before (the former view, once): {wall:.2f} s wall, {cpu:.2f} s CPU "
                    f"(x{wall / now[0]:.0f} wall)"
                )
            print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--contacts-per-day", type=int, default=19_200)  # 7 M a year
    parser.add_argument("--events-per-contact", type=int, default=12)
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--changes-per-agent", type=int, default=20)
    parser.add_argument("--build-every", type=int, default=30)
    parser.add_argument("--skip-before", action="store_true", help="not the former views")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="omnicx-bench-history-") as home:
        settings = with_overrides(load_settings(), home=Path(home))
        land_year(settings, args)
        bench_queries(settings, args.days, args.skip_before)


if __name__ == "__main__":
    main()
