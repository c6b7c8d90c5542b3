"""A worker of the rebalance test (``test_stream_rebalance.py``): a ``BatchingApp`` whose batch
agent appends ``<partition> <offset>`` of every message it gets to a file.

With a hold port, its first batch is held in a handshake with the test: the handler says
``holding``, waits until a revocation of its partitions has begun (a second worker joined), says
``revoked`` and waits for the test's go-ahead before it returns.

    python -m tests.streams.rebalance_worker --home HOME OUT [HOLD_PORT]   (OMNICX_* settings)
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import faust

from schemas.settings import load_settings
from schemas.topics import topic_names
from streams.batches import Batch, BatchingApp

BATCH_SIZE = 10  # small fetches: the first one leaves work for the second worker


class RevocationAwareApp(BatchingApp):
    """Sets ``revoking`` when a revocation of assigned partitions begins: Faust's own signal
    (``on_partitions_revoked``) only fires after it waited for the batch being processed."""

    revoking: asyncio.Event

    async def _on_partitions_revoked(self, revoked: set) -> None:
        if revoked:
            self.revoking.set()
        await super()._on_partitions_revoked(revoked)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", help="the state directory (the settings carry it too)")
    parser.add_argument("out", type=Path)
    parser.add_argument("hold_port", type=int, nargs="?")
    args = parser.parse_args()
    settings = load_settings()
    datadir = settings.home / f"rebalance-{args.out.stem}"
    datadir.mkdir(parents=True, exist_ok=True)
    app = RevocationAwareApp(
        settings.stream.app_id,
        broker=f"kafka://{settings.kafka.bootstrap}",
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        datadir=str(datadir),
        broker_max_poll_records=BATCH_SIZE,
    )
    app.revoking = asyncio.Event()
    raw = app.topic(topic_names(settings).raw_events)
    holding = [args.hold_port]

    @app.batch_agent(raw)
    async def record(batch: Batch) -> None:
        if holding[0] is not None:
            port, holding[0] = holding[0], None
            await _hold(port, app.revoking)
        with args.out.open("a") as out:
            for tp, messages in batch.items():
                out.writelines(f"{tp.partition} {m.offset}\n" for m in messages)

    faust.Worker(app, loglevel="warning", quiet=True).execute_from_commandline()


async def _hold(port: int, revoking: asyncio.Event) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"holding\n")
    await writer.drain()
    await revoking.wait()
    writer.write(b"revoked\n")
    await writer.drain()
    await reader.readline()  # the test's go-ahead
    writer.close()


if __name__ == "__main__":
    main()
