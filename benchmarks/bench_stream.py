"""Sustained events/s through the whole stream app on a real broker, beside the ceiling: a bare
aiokafka consumer reading the same raw topic in the same run.

    .venv/bin/python -m benchmarks.bench_stream [--days 3] [--workers 1] [--live]
    (from the repository root: it reuses the test harness in tests/)

It starts its own broker on free ports under a temporary directory, simulates ``--days`` of the
default centre (with the default faults) into the raw topic, runs ``omnicx stream`` worker(s) and
times them from the first 10% of valid events published to the last journey published
(``stream_rate``). With ``--live``, only a tenth is in the topic when the workers start and the
simulator's producer sends the rest while they run, timed from its start to the last journey.
Then it reads the raw topic once with a bare consumer, once with a Faust agent and once with a
batch agent that do no work (``faust_bare_worker.py``: the ceilings of Faust's per-message
delivery and of the whole fetches the ingest stage gets). Prints figures and ratios; asserts
nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from kafka import TopicPartition

from orchestration.kafka.broker import LocalBroker
from orchestration.kafka.lag import consumer_lag
from pipelines.kafka_io import consumer
from pipelines.producer import produce
from pipelines.simulator.config import SimulationConfig
from pipelines.simulator.run import Simulation
from schemas.settings import Settings, with_overrides
from schemas.settings_env import settings_env
from schemas.topics import topic_names
from tests.conftest import REPO, broker_settings
from tests.harness import OmnicxProcess, isolated_settings


def bare_consumer_rate(settings: Settings, topic: str, total: int) -> float:
    """Messages/s of a bare aiokafka consumer (the client under Faust, with its C record
    decoder) reading the raw topic in batches of up to 5,000: the ceiling. Like the bare Faust
    workers, the clock starts at the first batch, so connecting is not counted."""

    async def read() -> float:
        reader = AIOKafkaConsumer(
            topic, bootstrap_servers=settings.kafka.bootstrap, auto_offset_reset="earliest"
        )
        await reader.start()
        try:
            seen, first_batch, started = 0, 0, 0.0
            while seen < total:
                fetched = await reader.getmany(timeout_ms=1000, max_records=5000)
                count = sum(len(records) for records in fetched.values())
                if count and not seen:
                    first_batch, started = count, time.perf_counter()
                seen += count
            return (seen - first_batch) / (time.perf_counter() - started)
        finally:
            await reader.stop()

    return asyncio.run(read())


def bare_faust_rate(settings: Settings, total: int, delivery: str) -> float:
    """Messages/s of a Faust worker that does nothing but count the raw topic, delivered to an
    agent (``agent``) or to a batch agent (``batch``)."""
    worker = Path(__file__).with_name("faust_bare_worker.py")
    done = subprocess.run(
        [sys.executable, str(worker), str(total), delivery],
        env={**os.environ, **settings_env(settings), "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    # Faust writes terminal control sequences before it: search, do not match the line start.
    rates = re.findall(r"rate (\d+)", done.stdout)
    if not rates:
        raise SystemExit(
            "the bare Faust worker failed:\n" + done.stdout[-2000:] + done.stderr[-2000:]
        )
    return float(rates[0])


@dataclass(frozen=True)
class StreamRun:
    sustained: float  # events/s from 10% of the valid events out to the last journey out
    overall: float  # events/s from the workers' launch (start-up and recovery included)
    ingest_seconds: float  # from launch to the last valid event out
    journeys_seconds: float  # from launch to the last journey out
    live: float | None  # events/s from the start of ``feed`` to the last journey out
    feed_seconds: float | None  # how long ``feed`` took to produce its messages


def stream_rate(
    settings: Settings, total: int, workers: int, feed: Callable[[], int] | None = None
) -> StreamRun:
    """How fast ``workers`` stream workers turn the raw topic into events and journeys.

    The clock reads what the app has produced (end offsets of the valid-events and journeys
    topics, every 50 ms), not committed offsets, which move only every few seconds. Finished is
    the first sample at which both topics hold their final counts, known once the group has
    committed all of the raw and identity topics. Sustained starts when 10% of the valid events
    are out (after start-up and recovery); overall starts when the workers are launched.

    ``feed`` (live mode) produces more raw messages and returns how many: it runs in a thread,
    started once the workers have processed what the topic held at launch, and ``live`` is its
    messages over the time from its start to the last journey out, so the simulator's producer
    and the workers share the machine.
    """
    names = topic_names(settings)
    reader = consumer(settings)
    outputs = [
        TopicPartition(topic, p)
        for topic in (names.events, names.journeys)
        for p in reader.partitions_for_topic(topic)
    ]
    inputs = [names.raw_events, names.identity]
    procs = [
        OmnicxProcess(settings, "stream", "--worker", f"w{i}", log_name=f"bench-w{i}")
        for i in range(workers)
    ]
    samples: list[tuple[float, dict[str, int]]] = []

    def sample() -> None:
        counts = dict.fromkeys((names.events, names.journeys), 0)
        for tp, end in reader.end_offsets(outputs).items():
            counts[tp.topic] += end
        samples.append((time.perf_counter(), counts))

    fed: list[tuple[int, float]] = []  # (messages, when done)
    feeder = (
        threading.Thread(target=lambda: fed.append((feed(), time.perf_counter()))) if feed else None
    )
    fed_at = 0.0
    try:
        started = time.perf_counter()
        next_lag_check = started
        while True:
            dead = [p for p in procs if p.process.poll() is not None]
            if dead:
                raise SystemExit("a stream worker died:\n" + dead[0].log_tail())
            sample()
            if samples[-1][0] >= next_lag_check:
                next_lag_check = samples[-1][0] + 1.0
                feeding = feeder is not None and feeder.is_alive()
                if not feeding and not any(
                    consumer_lag(settings, settings.stream.app_id, inputs).values()
                ):
                    if feeder is None or fed_at:
                        break
                    fed_at = time.perf_counter()
                    feeder.start()
            time.sleep(0.05)
        sample()
    finally:
        if feeder is not None and fed_at:
            feeder.join()
        for proc in procs:
            proc.stop()
        reader.close()
    if feeder is not None and not fed:
        raise SystemExit("the live feed failed")
    final = samples[-1][1]
    done = next(t for t, counts in samples if counts == final)
    events_done = next(t for t, counts in samples if counts[names.events] == final[names.events])
    first = next(t for t, counts in samples if counts[names.events] >= 0.1 * final[names.events])
    return StreamRun(
        sustained=0.9 * total / (done - first),
        overall=total / (done - started),
        ingest_seconds=events_done - started,
        journeys_seconds=done - started,
        live=fed[0][0] / (done - fed_at) if fed else None,
        feed_seconds=fed[0][1] - fed_at if fed else None,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=Settings().stream.batch_size)
    parser.add_argument(
        "--live",
        action="store_true",
        help="produce 10%% before the workers start and the rest while they run",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="omnicx-bench-") as tmp:
        base = broker_settings(Path(tmp))
        broker = LocalBroker(base)
        broker.start()
        try:
            settings = isolated_settings(
                with_overrides(base, stream={"batch_size": args.batch_size}), Path(tmp) / "run"
            )
            simulation = Simulation(SimulationConfig(seed=7, days=args.days), settings)
            messages = list(simulation.messages())
            total = len(messages)
            if args.live:
                warm_up = total // 10
                produce(messages[:warm_up], settings)
                run = stream_rate(
                    settings,
                    total,
                    args.workers,
                    feed=lambda: produce(messages[warm_up:], settings),
                )
            else:
                produce(messages, settings)
                run = stream_rate(settings, total, args.workers)
            ceiling = bare_consumer_rate(settings, topic_names(settings).raw_events, total)
            faust_ceiling = bare_faust_rate(settings, total, "agent")
            batch_ceiling = bare_faust_rate(settings, total, "batch")
        finally:
            broker.stop()
    print(f"raw messages               {total:>10,}")
    print(f"bare consumer (ceiling)    {ceiling:>10,.0f} msg/s")
    print(f"bare Faust agent           {faust_ceiling:>10,.0f} msg/s  (take_events, no work)")
    print(f"bare batch agent           {batch_ceiling:>10,.0f} msg/s  (whole fetches, no work)")
    setup = f"{args.workers} worker(s), batches of {args.batch_size}"
    if run.live is not None and run.feed_seconds is not None:
        rate = run.live
        print(f"stream app, live           {rate:>10,.0f} events/s  ({setup})")
        print(
            f"  90% of the messages produced meanwhile, in {run.feed_seconds:.1f} s; "
            f"last journey out at {run.journeys_seconds:.1f} s after launch"
        )
    else:
        rate = run.sustained
        print(f"stream app, sustained      {rate:>10,.0f} events/s  ({setup})")
        print(f"stream app, incl. start-up {run.overall:>10,.0f} events/s")
        print(
            f"  last valid event out at {run.ingest_seconds:.1f} s, "
            f"last journey at {run.journeys_seconds:.1f} s after launch"
        )
    print(f"stream app / ceiling       {rate / ceiling:>10.2f}")
    print(f"stream app / bare Faust    {rate / faust_ceiling:>10.2f}")
    print(f"stream app / bare batch    {rate / batch_ceiling:>10.2f}")


if __name__ == "__main__":
    main()
