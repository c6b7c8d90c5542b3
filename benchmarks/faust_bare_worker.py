"""A Faust worker that only counts the raw topic in ``take_events`` batches: the ceiling of any
Faust agent on this machine (run by bench_stream.py; prints ``rate <messages/s>``).

    python benchmarks/faust_bare_worker.py TOTAL   (settings from OMNICX_* variables)
"""

from __future__ import annotations

import os
import signal
import sys
import time

import faust

from schemas.settings import load_settings
from schemas.topics import topic_names


def main() -> None:
    total = int(sys.argv[1])
    settings = load_settings()
    datadir = settings.home / "bare-faust"
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        f"{settings.stream.app_id}-bare",
        broker=f"kafka://{settings.kafka.bootstrap}",
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        datadir=str(datadir),
    )
    raw = app.topic(topic_names(settings).raw_events)
    seen = {"count": 0, "first": 0.0}

    @app.agent(raw)
    async def count(stream):
        async for batch in stream.take_events(settings.stream.batch_size, within=0.5):
            if not seen["count"]:
                seen["first"] = time.perf_counter()
            seen["count"] += len(batch)
            if seen["count"] >= total:
                rate = (seen["count"] - len(batch)) / (time.perf_counter() - seen["first"])
                os.write(1, f"rate {rate:.0f}\n".encode())
                os.kill(os.getpid(), signal.SIGTERM)

    faust.Worker(app, loglevel="error", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
