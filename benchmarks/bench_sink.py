"""Benchmark of the lake: how fast the sink lands rows, and how fast a day-level KPI-like query
runs over ten million contacts.

1. Landing: canonical events (JSON, as on the `events` topic) go through the sink's landing path
   (decode, Arrow columns with times parsed, split by business day, zstd Parquet, fsync,
   rename) in batches of ``sink_batch_rows``.
   With ``--kafka``, also end to end: the events are produced to fresh topics of the broker the
   settings name (``omnicx kafka start``), polled once by a plain consumer (kafka-python's
   share of the sink's work, alone), then consumed and landed by a LakeSink (its group join
   included).
2. Query: synthetic contact versions are written straight into the lake with pyarrow/numpy,
   the warehouse is built, and a count/sum per started_day x tenant x channel is timed through
   int_contacts (latest version of each contact, customer key joined) and through the staging
   view (every version, no resolution).

Prints figures; asserts nothing.

    .venv/bin/python benchmarks/bench_sink.py [--contacts 10000000] [--events 200000] [--kafka]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from schemas.settings import Settings, load_settings, with_overrides
from warehouse.build import build_warehouse, connect_read_only
from warehouse.landing import (
    by_business_day,
    lake_file_path,
    records_table,
    write_all_atomically,
)
from warehouse.tables import CONTACT_VERSIONS, CUSTOMER_KEYS, EVENTS, LakeTable

T0_MS = 1_767_571_200_000  # 2026-01-05T00:00:00Z
DAYS = 30
TENANTS = np.array(["acme", "globex", "initech"])
CHANNELS = np.array(["voice", "email", "chat", "sms", "social"])
QUEUES = np.array(["billing", "retention", "tech", "sales"])


@dataclass(frozen=True)
class Record:
    partition: int
    offset: int
    timestamp: int
    value: bytes


def synthetic_events(count: int) -> list[Record]:
    records = []
    for n in range(count):
        event = {
            "event_id": f"e{n}",
            "event_type": "contact.queued",
            "schema_version": 1,
            "occurred_at": "2026-01-05T09:00:00.000Z",
            "ts": 1767603600.0 + n,
            "tenant": "acme",
            "channel": "voice",
            "direction": None,
            "contact_id": f"c{n // 8}",
            "agent_id": None,
            "queue": "billing",
            "customer_ids": [f"phone:{n % 9973:08x}"],
            "attributes": {"skill": "billing", "priority": 2},
        }
        records.append(Record(0, n, T0_MS + n, orjson.dumps(event)))
    return records


def bench_landing(settings: Settings, count: int) -> None:
    records = synthetic_events(count)
    size = settings.warehouse.sink_batch_rows
    started = time.perf_counter()
    for first in range(0, count, size):
        batch = records[first : first + size]
        write_days(settings, EVENTS, records_table(EVENTS, batch), batch[0].offset)
    seconds = time.perf_counter() - started
    print(f"landing path: {count:,} events in {seconds:.2f} s = {count / seconds:,.0f} rows/s")


def bench_kafka(settings: Settings, count: int) -> None:
    from orchestration.kafka.topics import provision_topics
    from pipelines.kafka_io import admin_client, producer
    from schemas.topics import project_topics, topic_names
    from warehouse.sink import LakeSink

    run = uuid.uuid4().hex[:8]
    settings = with_overrides(settings, topics={"prefix": f"bench-{run}."})
    # A short batch time: the last, partial batches must not wait the default 30 s to land.
    settings = with_overrides(
        settings, warehouse={"sink_group_id": f"bench-sink-{run}", "sink_batch_seconds": 0.5}
    )
    provision_topics(settings)
    try:
        client = producer(settings, linger_ms=20)
        topic = topic_names(settings).events
        for record in synthetic_events(count):
            event = orjson.loads(record.value)
            client.send(topic, key=event["contact_id"].encode(), value=record.value)
        client.flush()
        client.close()
        bench_poll(settings, topic, count)
        sink = LakeSink(settings, instance_id=f"bench-{run}")
        started = time.perf_counter()
        sink.run(lambda: sink.rows_landed >= count)
        seconds = time.perf_counter() - started
        print(
            f"sink from Kafka: {count:,} events in {seconds:.2f} s = {count / seconds:,.0f} rows/s"
        )
    finally:
        with admin_client(settings) as admin:
            admin.delete_topics([spec.name for spec in project_topics(settings)])


def bench_poll(settings: Settings, topic: str, count: int) -> None:
    """kafka-python's part of the sink alone: poll the records without landing them, timed from
    the first fetch (no group, so no join)."""
    from pipelines.kafka_io import consumer

    client = consumer(
        settings, topic, max_poll_records=min(settings.warehouse.sink_batch_rows, 10_000)
    )
    polled, started, cpu = 0, 0.0, 0.0
    while polled < count:
        fetched = client.poll(timeout_ms=500)
        if fetched and not polled:
            started, cpu = time.perf_counter(), time.process_time()
        polled += sum(len(records) for records in fetched.values())
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    client.close()
    print(
        f"kafka-python poll alone: {polled:,} records in {seconds:.2f} s (CPU {cpu:.2f} s) "
        f"= {polled / seconds:,.0f} records/s"
    )


def contact_versions(
    first: int, count: int, rng: np.random.Generator, day: int | None = None
) -> pa.Table:
    """``count`` contacts (one version each) with the full lake schema of contact_versions,
    started over DAYS days from T0_MS, or on day number ``day``."""
    ids = pa.array(np.arange(first, first + count))
    if day is None:
        started_ms = T0_MS + rng.integers(0, DAYS * 86_400_000, count)
    else:
        started_ms = T0_MS + day * 86_400_000 + rng.integers(0, 86_400_000, count)
    started = pc.strftime(
        pa.array(started_ms.astype("datetime64[ms]")), format="%Y-%m-%dT%H:%M:%SZ"
    )
    customers = pc.binary_join_element_wise(
        "phone:", pc.cast(pa.array(rng.integers(0, 10**6, count)), pa.string()), ""
    )
    answered = rng.random(count) < 0.85
    columns = {
        "contact_id": pc.binary_join_element_wise("c", pc.cast(ids, pa.string()), ""),
        "tenant": pa.array(TENANTS[rng.integers(0, len(TENANTS), count)]),
        "channel": pa.array(CHANNELS[rng.integers(0, len(CHANNELS), count)]),
        "direction": pa.array(np.full(count, "inbound")),
        "customer_ids": pa.ListArray.from_arrays(
            pa.array(np.arange(count + 1, dtype=np.int32)), customers
        ),
        "queues": pa.ListArray.from_arrays(
            pa.array(np.arange(count + 1, dtype=np.int32)),
            pa.array(QUEUES[rng.integers(0, len(QUEUES), count)]),
        ),
        "started_at": started,
        "talk_seconds": pa.array(
            np.where(answered, rng.gamma(4.0, 60.0, count), np.nan), from_pandas=True
        ),
        "hold_seconds": pa.array(rng.exponential(10.0, count)),
        "abandoned": pa.array(~answered),
        "version": pa.array(np.ones(count, dtype=np.int64)),
        "_kafka_partition": pa.array(np.zeros(count, dtype=np.int32)),
        "_kafka_offset": pa.array(np.arange(first, first + count, dtype=np.int64)),
        "_kafka_timestamp": pa.array(started_ms.astype("datetime64[ms]")),
    }
    schema = CONTACT_VERSIONS.arrow_schema
    arrays = [
        columns[f.name].cast(f.type) if f.name in columns else pa.nulls(count, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def customer_keys(count: int) -> pa.Table:
    identifiers = pc.binary_join_element_wise(
        "phone:", pc.cast(pa.array(np.arange(count)), pa.string()), ""
    )
    columns = {
        "tenant": pa.array(np.full(count, "acme")),
        "identifier": identifiers,
        "customer_key": identifiers,
        "version": pa.array(np.ones(count, dtype=np.int64)),
        "_kafka_partition": pa.array(np.zeros(count, dtype=np.int32)),
        "_kafka_offset": pa.array(np.arange(count, dtype=np.int64)),
        "_kafka_timestamp": pa.array(np.full(count, T0_MS).astype("datetime64[ms]")),
    }
    schema = CUSTOMER_KEYS.arrow_schema
    arrays = [
        columns[f.name].cast(f.type) if f.name in columns else pa.nulls(count, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def write_days(settings: Settings, table: LakeTable, data: pa.Table, first: int) -> None:
    """``data`` (offsets from ``first``) as the sink lands a batch: a file per business day."""
    last = first + data.num_rows - 1
    write_all_atomically(
        [
            (rows, lake_file_path(settings.lake_dir, table, day, 0, first, last))
            for day, rows in by_business_day(table, data)
        ]
    )


DAY_QUERY = """
select started_day, tenant, channel, count(*) as contacts,
       count(*) filter (where abandoned) as abandoned, sum(talk_seconds) as talk_seconds
from {relation}
group by all
"""


# What int_contacts ran per query before the latest versions were materialised: the window over
# every raw version (the baseline of the same run).
FROM_RAW = """(select *, cast(started_at as date) as started_day from stg_contact_versions
    qualify row_number() over (partition by contact_id
        order by version desc, _kafka_timestamp desc, _kafka_offset desc) = 1)"""
ONE_DAY = "(select * from {relation} where started_day = date '2026-01-20')"


def bench_query(settings: Settings, contacts: int) -> None:
    rng = np.random.default_rng(7)
    started = time.perf_counter()
    per_file = 1_000_000
    for first in range(0, contacts, per_file):
        write_days(
            settings,
            CONTACT_VERSIONS,
            contact_versions(first, min(per_file, contacts - first), rng),
            first,
        )
    write_days(settings, CUSTOMER_KEYS, customer_keys(1_000_000), 0)
    print(f"generated {contacts:,} contacts in Parquet in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    build_warehouse(settings)
    print(f"first build (materialises every day): {time.perf_counter() - started:.1f} s")
    # One more file of 2026-01-20 (the sink's next batch): the next build recomputes that day.
    extra = 20_000
    write_days(settings, CONTACT_VERSIONS, contact_versions(contacts, extra, rng, day=15), contacts)
    started = time.perf_counter()
    build_warehouse(settings)
    print(
        f"build after a batch of one day landed (that day only): {time.perf_counter() - started:.1f} s"
    )
    with connect_read_only(settings) as con:
        for relation, what in (
            ("int_contacts", "int_contacts (materialised latest versions, customer key)"),
            (FROM_RAW, "window over every raw version (int_contacts before, the baseline)"),
            (
                "(select *, cast(started_at as date) as started_day from stg_contact_versions)",
                "staging view",
            ),
        ):
            for query, scope in (
                (relation, "every day"),
                (ONE_DAY.format(relation=relation), "one day"),
            ):
                started = time.perf_counter()
                groups = con.execute(DAY_QUERY.format(relation=query)).fetchall()
                seconds = time.perf_counter() - started
                total = sum(row[3] for row in groups)
                print(
                    f"day x tenant x channel, {scope}, over {what}: {seconds:.2f} s "
                    f"({len(groups)} groups, {total:,} contacts)"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=10_000_000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--kafka", action="store_true", help="also land from the configured broker")
    parser.add_argument("--no-query", action="store_true", help="landing only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="omnicx-bench-") as home:
        settings = with_overrides(load_settings(), home=Path(home))
        bench_landing(settings, args.events)
        if args.kafka:
            bench_kafka(with_overrides(settings, home=Path(home) / "kafka-run"), args.events)
        if not args.no_query:
            bench_query(with_overrides(settings, home=Path(home) / "query"), args.contacts)


if __name__ == "__main__":
    main()
