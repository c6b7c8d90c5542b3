"""CPU seconds of the customer stage (identity, journeys, churn scoring) per raw message, and
the memory a catch-up batch of it holds.

    .venv/bin/python -m benchmarks.bench_customer_stage [--days 3] [--batch 1000] [--no-memory]

Simulates ``--days`` of the default centre (as ``bench_stream`` does), runs the ingest stage
over it offline (one partition, no broker: ``PartitionIngest``), then times ``CustomerStage``
over the identity messages ingest made, with stores that keep values as JSON and hold a batch's
changes until its end (as the stream's tables, ``streams.tables``). The ingest stage's time is printed beside it: the stage's share of the two, without
Faust, Kafka, the wallboard or the tables' RocksDB.

Then, as a worker catching up on a backlog takes the identity topic: a fresh stage over every
identity message, taken ``CUSTOMER_BATCH_MESSAGES`` at a time (``streams.agents``), and
``--batch`` at a time (what the agent took before), and ``--batch`` at a time with orjson's own
bytes (what the stage encoded with before, ``streams.json_bytes``): the peak memory a batch adds
(its outputs and its state changes, held until acknowledged; tracemalloc), in the same run.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import orjson

import streams.customers
from benchmarks.bench_stream_logic import JsonValues
from pipelines.producer import message_key
from pipelines.simulator.config import SimulationConfig
from pipelines.simulator.run import Simulation
from schemas.settings import Settings, load_settings, with_pii_key
from schemas.topics import topic_names
from streams.agents import CUSTOMER_BATCH_MESSAGES
from streams.customers import CustomerStage
from streams.ingest import PartitionIngest, RawMessage, identity_messages
from streams.tables import WriteBehind


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--batch", type=int, default=Settings().stream.batch_size)
    parser.add_argument("--no-memory", action="store_true", help="skip the catch-up batches")
    args = parser.parse_args()
    settings = with_pii_key(load_settings(environ={}))
    values = list(Simulation(SimulationConfig(seed=7, days=args.days), settings).messages())
    sent_at = time.time()
    ingest = PartitionIngest(settings, topic_names(settings).raw_events, {}, {})
    identity: list[list[bytes]] = []
    started = time.process_time()
    for first in range(0, len(values), args.batch):
        batch = values[first : first + args.batch]
        messages = [
            RawMessage(message_key(value), value, 0, first + n, sent_at)
            for n, value in enumerate(batch)
        ]
        out = ingest.process(messages)
        ingest.published()
        identity.append([value for _, value in identity_messages(out.identity)])
    ingest_seconds = time.process_time() - started
    # identity, journeys, keys, churn: read through the batch's held changes, written at its end
    stores = [WriteBehind(JsonValues()) for _ in range(4)]
    stage = CustomerStage(settings, *stores)
    journeys = 0
    started = time.process_time()
    for messages in identity:
        journeys += len(stage.process(messages).journeys)
        for store in stores:
            store.flush()
    stage_seconds = time.process_time() - started
    per_message = 1e6 / len(values)
    print(f"raw messages      {len(values):>10,}  ({args.days} days, batches of {args.batch})")
    print(f"identity messages {sum(map(len, identity)):>10,}  journey records {journeys:,}")
    print(
        f"ingest stage      {ingest_seconds:>8.2f} s CPU  {ingest_seconds * per_message:>6.1f} µs/msg"
    )
    print(
        f"customer stage    {stage_seconds:>8.2f} s CPU  {stage_seconds * per_message:>6.1f} µs/msg"
    )
    print(f"customer share    {stage_seconds / (ingest_seconds + stage_seconds):>8.0%}")
    if args.no_memory:
        return
    backlog = [message for messages in identity for message in messages]
    print("peak memory a catch-up batch adds, outputs and state changes (tracemalloc):")
    for take, encode, label in (
        (CUSTOMER_BATCH_MESSAGES, streams.customers.json_bytes, "right-sized bytes"),
        (args.batch, streams.customers.json_bytes, "right-sized bytes"),
        (args.batch, orjson.dumps, "orjson's own bytes (before)"),
    ):
        held = largest_held(settings, backlog, take, encode)
        print(f"  {take:>5} identity messages a batch, {label:<28} {held / 2**20:>8.1f} MiB")


def largest_held(
    settings: Settings, backlog: list[bytes], take: int, encode: Callable[[Any], bytes]
) -> int:
    """The most bytes one batch added at its peak (its outputs and its state changes, which a
    worker holds until the broker acknowledges them), over ``backlog`` taken ``take`` at a time
    by a fresh stage whose messages are encoded by ``encode``."""
    original = streams.customers.json_bytes
    streams.customers.json_bytes = encode
    stores = [WriteBehind(JsonValues()) for _ in range(4)]
    stage = CustomerStage(settings, *stores)
    largest = 0
    tracemalloc.start()
    try:
        for first in range(0, len(backlog), take):
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            out = stage.process(backlog[first : first + take])
            largest = max(largest, tracemalloc.get_traced_memory()[1] - before)
            del out
            for store in stores:
                store.flush()
    finally:
        tracemalloc.stop()
        streams.customers.json_bytes = original
    return largest


if __name__ == "__main__":
    main()
