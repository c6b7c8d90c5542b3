"""CPU seconds of the customer stage (identity, journeys, churn scoring) per raw message.

    .venv/bin/python -m benchmarks.bench_customer_stage [--days 3] [--batch 1000]

Simulates ``--days`` of the default centre (as ``bench_stream`` does), runs the ingest stage
over it offline (one partition, no broker: ``PartitionIngest``), then times ``CustomerStage``
over the identity messages ingest made, with stores that keep values as JSON and hold a batch's
changes until its end (as the stream's tables, ``streams.tables``). The ingest stage's time is printed beside it: the stage's share of the two, without
Faust, Kafka, the wallboard or the tables' RocksDB.
"""

from __future__ import annotations

import argparse
import time

from benchmarks.bench_stream_logic import JsonValues
from pipelines.producer import message_key
from pipelines.simulator.config import SimulationConfig
from pipelines.simulator.run import Simulation
from schemas.settings import Settings, load_settings, with_pii_key
from schemas.topics import topic_names
from streams.customers import CustomerStage
from streams.ingest import PartitionIngest, RawMessage, identity_messages
from streams.tables import WriteBehind


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--batch", type=int, default=Settings().stream.batch_size)
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


if __name__ == "__main__":
    main()
