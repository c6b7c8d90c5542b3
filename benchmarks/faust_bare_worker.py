"""A Faust worker that only counts the raw topic: the ceiling of any stage on this machine (run
by bench_stream.py; prints ``rate <messages/s>``).

    python benchmarks/faust_bare_worker.py TOTAL agent|batch   (settings from OMNICX_* variables)

``agent``: a Faust agent reading ``take_events`` batches (Faust's per-message delivery);
``batch``: a batch agent given whole fetches (``streams.batches``, what the ingest stage uses).
"""

from __future__ import annotations

import os
import signal
import sys
import time

import faust

from schemas.settings import load_settings
from schemas.topics import topic_names
from streams.batches import Batch, BatchingApp


def main() -> None:
    total, delivery = int(sys.argv[1]), sys.argv[2]
    settings = load_settings()
    datadir = settings.home / f"bare-{delivery}"
    datadir.mkdir(parents=True, exist_ok=True)
    app = BatchingApp(
        f"{settings.stream.app_id}-bare-{delivery}",
        broker=f"kafka://{settings.kafka.bootstrap}",
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        datadir=str(datadir),
        broker_max_poll_records=settings.stream.batch_size,
    )
    raw = app.topic(topic_names(settings).raw_events)
    seen = {"count": 0, "first": 0.0}

    def count(size: int) -> None:
        if not seen["count"]:
            seen["first"] = time.perf_counter()
        seen["count"] += size
        if seen["count"] >= total:
            rate = (seen["count"] - size) / (time.perf_counter() - seen["first"])
            os.write(1, f"rate {rate:.0f}\n".encode())
            os.kill(os.getpid(), signal.SIGTERM)

    if delivery == "agent":

        @app.agent(raw)
        async def count_events(stream: faust.StreamT) -> None:
            async for events in stream.take_events(settings.stream.batch_size, within=0.5):
                count(len(events))

    else:

        @app.batch_agent(raw)
        async def count_fetches(batch: Batch) -> None:
            count(sum(len(messages) for messages in batch.values()))

    faust.Worker(app, loglevel="error", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
