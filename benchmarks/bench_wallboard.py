"""Wallboard push latency and cost: 200 viewers of one tenant's page on loopback, each following
its server-sent events, while probe events go through a real broker, a real stream worker
(``omnicx stream``) and the wallboard (``omnicx wallboard``), both processes.

    .venv/bin/python -m benchmarks.bench_wallboard [--viewers 200] [--probes 60] [--rate 50]
    (from the repository root: it reuses the test parts in tests/)

Its own broker on free ports. A probe is a ``contact.queued`` event of a new contact of the
tenant ``probe``, produced every 0.5 s; the n-th probe makes the board show n contacts waiting.
Its latency, per viewer, is from the probe's send to the first event-stream message that shows
n or more waiting (what the page renders at once: "event to screen", minus the browser's
paint). Meanwhile the simulator's day goes in at ``--rate`` messages a second for other tenants,
so that the stream worker is busy (dated in January, they are too late for the live board's
state, but are validated, de-duplicated and published by the ingest stage as ever). The viewers are asyncio HTTP clients in this process (200 browsers do not
fit a 2-core machine), reading the same bytes a browser's EventSource reads.

Prints p50/p95/p99 over every (probe, viewer), and the wallboard process's CPU (from
/proc/PID/stat) per second of the run with 1 viewer and with ``--viewers`` viewers, and the
difference per viewer. The issue's goal: p99 under 2 s on the 2-core development machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

import orjson

from orchestration.kafka.broker import LocalBroker
from pipelines.kafka_io import producer
from pipelines.producer import message_key
from pipelines.simulator.config import SimulationConfig
from pipelines.simulator.run import Simulation
from schemas.settings import with_overrides
from schemas.times import format_utc
from schemas.topics import topic_names
from tests.conftest import broker_settings, free_port_pair
from tests.harness import OmnicxProcess, isolated_settings, wait_for_stream

TOKEN_ENV, TOKEN = "OMNICX_BENCH_WALLBOARD_TOKEN", uuid.uuid4().hex
PROBE_SECONDS = 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=200)
    parser.add_argument("--probes", type=int, default=60, help="probe events, one per 0.5 s")
    parser.add_argument("--rate", type=float, default=50.0, help="background messages a second")
    args = parser.parse_args()
    os.environ[TOKEN_ENV] = TOKEN
    with tempfile.TemporaryDirectory(prefix="omnicx-bench-") as tmp:
        base = broker_settings(Path(tmp))
        broker = LocalBroker(base)
        broker.start()
        try:
            settings = with_overrides(
                isolated_settings(base, Path(tmp) / "run"),
                wallboard={"port": free_port_pair(), "operator_token_env": TOKEN_ENV},
            )
            run(settings, args)
        finally:
            broker.stop()


def run(settings, args: argparse.Namespace) -> None:
    names = topic_names(settings)
    background = list(Simulation(SimulationConfig(seed=7, days=1), settings).messages())
    stream = OmnicxProcess(settings, "stream", "--worker", "bench", log_name="stream")
    board = OmnicxProcess(settings, "wallboard", log_name="wallboard")
    out = producer(settings, linger_ms=5, enable_idempotence=True)
    try:
        out.send(names.raw_events, key=message_key(background[0]), value=background[0]).get(30)
        wait_for_stream(settings, [stream])
        url = f"http://127.0.0.1:{settings.wallboard.port}/t/probe/events"
        probes = Probes(out, names.raw_events)
        probes.send()  # the probe tenant exists on the board before anyone watches
        pid = board.process.pid
        rest = iter(background[1:])  # one pass over the day across both runs
        baseline = asyncio.run(measure(url, 1, pid, probes, rest, args, out, names))
        loaded = asyncio.run(measure(url, args.viewers, pid, probes, rest, args, out, names))
    finally:
        out.close()
        board.stop()
        stream.stop()
    load = os.getloadavg()
    latencies = loaded.latencies
    print(
        f"viewers {args.viewers}, probes {args.probes} every {PROBE_SECONDS} s, background "
        f"{args.rate:g} messages/s; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
    )
    print(f"latencies                  {len(latencies):>8}  (probe sent -> viewer got it)")
    for name, share in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        print(f"event to screen {name}".ljust(27) + f"{_percentile(latencies, share):>8.0f} ms")
    print(f"max                        {max(latencies):>8.0f} ms")
    print(
        f"1 viewer p50 / p99         {_percentile(baseline.latencies, 0.5):>8.0f} / "
        f"{_percentile(baseline.latencies, 0.99):.0f} ms"
    )
    per_viewer = (loaded.cpu_share - baseline.cpu_share) / max(1, args.viewers - 1)
    print(f"wallboard CPU, 1 viewer    {100 * baseline.cpu_share:>8.1f} % of a core (pid {pid})")
    print(f"wallboard CPU, {args.viewers} viewers".ljust(27) + f"{100 * loaded.cpu_share:>8.1f} %")
    print(f"CPU per added viewer       {100 * per_viewer:>8.3f} % of a core")


class Probes:
    """Probe events of tenant ``probe``: the n-th makes n contacts wait."""

    def __init__(self, out, topic: str) -> None:
        self.out, self.topic = out, topic
        self.sent: list[float] = []  # monotonic send time of probe n at index n - 1

    def send(self) -> None:
        contact = f"probe-{uuid.uuid4().hex[:12]}"
        event = {
            "event_id": f"{contact}-q",
            "event_type": "contact.queued",
            "schema_version": 1,
            "occurred_at": format_utc(time.time()),
            "tenant": "probe",
            "channel": "voice",
            "contact_id": contact,
            "queue": "probe",
        }
        raw = orjson.dumps(event)
        self.sent.append(time.monotonic())
        self.out.send(self.topic, key=message_key(raw), value=raw)
        self.out.flush()


class Measured:
    def __init__(self) -> None:
        self.latencies: list[float] = []  # milliseconds
        self.cpu_share = 0.0  # of one core, over the measured window


async def measure(url, viewers, pid, probes, background, args, out, names) -> Measured:
    measured = Measured()
    first_probe = len(probes.sent) + 1
    last_probe = first_probe + args.probes - 1
    seen: list[dict[int, float]] = [{} for _ in range(viewers)]
    readers = [asyncio.create_task(_view(url, seen[v], last_probe)) for v in range(viewers)]
    await asyncio.sleep(2)  # every viewer connected and got its first board
    cpu_before, started = _cpu_seconds(pid), time.monotonic()
    for _ in range(args.probes):
        probes.send()
        deadline = time.monotonic() + PROBE_SECONDS
        for _ in range(int(args.rate * PROBE_SECONDS)):
            raw = next(background, None)
            if raw is not None:
                out.send(names.raw_events, key=message_key(raw), value=raw)
        await asyncio.sleep(max(0.0, deadline - time.monotonic()))
    await asyncio.wait_for(asyncio.gather(*readers), 60)
    measured.cpu_share = (_cpu_seconds(pid) - cpu_before) / (time.monotonic() - started)
    for per_viewer in seen:
        for n in range(first_probe, last_probe + 1):
            shown = min(t for k, t in per_viewer.items() if k >= n)
            measured.latencies.append((shown - probes.sent[n - 1]) * 1000)
    return measured


async def _view(url: str, seen: dict[int, float], until: int) -> None:
    """One viewer: follow the event stream, noting when each waiting count first showed."""
    host, port = url.split("//")[1].split("/")[0].split(":")
    path = "/" + url.split("//")[1].split("/", 1)[1]
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    try:
        while True:
            line = await reader.readline()
            if not line:
                return
            start = line.find(b"data: ")
            if start < 0:
                continue
            board = orjson.loads(line[start + 6 :])
            waiting = sum(tile["waiting"] for tile in board["tiles"])
            seen.setdefault(waiting, time.monotonic())
            if waiting >= until:
                return
    finally:
        writer.close()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


if __name__ == "__main__":
    main()
