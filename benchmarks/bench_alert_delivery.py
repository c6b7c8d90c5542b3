"""Alert delivery latency: alert produced on the ``alerts`` topic -> signed webhook received, on
a real broker and a loopback receiver, through the delivery worker (``omnicx alerts deliver``).

    .venv/bin/python -m benchmarks.bench_alert_delivery [--alerts 200] [--rate 20] [--hung]
    (from the repository root: it reuses the test parts in tests/)

It starts its own broker on free ports under a temporary directory and the delivery worker in a
thread, then produces ``--alerts`` alerts at ``--rate`` a second (each flushed alone, as the
stream sends them) and times each from its send to its arrival at the receiver. With
``--hung``, a second endpoint hangs on every request for the whole run: the live endpoint's
figures show what a dead receiver costs the others. This is the delivery half of the issue's
event -> webhook latency; ``benchmarks/bench_alert_latency.py`` times the whole path, from the
raw event through the stream. Prints p50/p95/p99; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from orchestration.kafka.broker import LocalBroker
from pipelines.kafka_io import producer
from schemas.settings import Settings, WebhookSettings, with_overrides
from schemas.topics import topic_names
from tests.conftest import broker_settings
from tests.harness import isolated_settings
from tests.orchestration.alert_fixtures import (
    SECRET,
    SECRET_ENV,
    Received,
    alert_record,
    delivery_worker,
    receiver,
    wait_for,
)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def print_latencies(latencies: list[float], what: str, heading: str) -> None:
    """The count, p50/p95/p99, mean and max of ``latencies`` (seconds), in milliseconds."""
    print(f"alerts                     {len(latencies):>8}  {heading}")
    for name, share in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        print(f"{what} {name}".ljust(27) + f"{percentile(latencies, share) * 1000:>8.1f} ms")
    print(f"mean                       {statistics.fmean(latencies) * 1000:>8.1f} ms")
    print(f"max                        {max(latencies) * 1000:>8.1f} ms")


@dataclass
class DeliveryRig:
    """A broker of the benchmark's own, settings whose webhook ``live`` points at a loopback
    receiver, and when each webhook-id first arrived there (``time.monotonic``)."""

    settings: Settings
    arrived: dict[str, tuple[float, Received]] = field(default_factory=dict)


@contextmanager
def delivery_rig(tmp: Path, *, hung: bool = False) -> Iterator[DeliveryRig]:
    """Broker, receiver and the delivery worker in a thread, warmed up by one alert that has
    gone through (so the worker has joined its group); with ``hung``, a second endpoint that
    never answers."""
    os.environ[SECRET_ENV] = SECRET
    lock = threading.Lock()
    base = broker_settings(tmp)
    broker = LocalBroker(base)
    broker.start()
    try:
        rig = DeliveryRig(isolated_settings(base, tmp / "run"))

        def arrive(request: Received, _before: int) -> int:
            with lock:
                rig.arrived.setdefault(request.webhook_id, (time.monotonic(), request))
            return 200

        with receiver({"/live": arrive}) as http:
            http.behaviours["/hang"] = http.hang
            hooks = [{"name": "live", "url": http.url("/live"), "secret_env": SECRET_ENV}]
            if hung:
                hooks.append({"name": "hung", "url": http.url("/hang"), "secret_env": SECRET_ENV})
            rig.settings = with_overrides(
                rig.settings,
                alerts={
                    "group_id": "bench-delivery",
                    "webhooks": tuple(WebhookSettings(**h) for h in hooks),
                    "request_timeout_seconds": 30.0,
                },
            )
            with delivery_worker(rig.settings):
                warm_up = alert_record("brand-warm-up", 0)
                out = producer(rig.settings)
                topic = topic_names(rig.settings).alerts
                out.send(topic, key=b"w", value=orjson.dumps(warm_up)).get(30)
                out.close()
                wait_for(lambda: warm_up["alert_id"] in rig.arrived, what="the warm-up alert")
                yield rig
    finally:
        broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0, help="alerts produced per second")
    parser.add_argument("--hung", action="store_true", help="add an endpoint that never answers")
    args = parser.parse_args()
    sent: dict[str, float] = {}
    with (
        tempfile.TemporaryDirectory(prefix="omnicx-bench-") as tmp,
        delivery_rig(Path(tmp), hung=args.hung) as rig,
    ):
        topic = topic_names(rig.settings).alerts
        out = producer(rig.settings, linger_ms=0)
        for n in range(1, args.alerts + 1):
            alert = alert_record(f"brand-{n % 3}", n)
            sent[alert["alert_id"]] = time.monotonic()
            out.send(topic, key=alert["customer_key"].encode(), value=orjson.dumps(alert))
            out.flush()
            time.sleep(1 / args.rate)
        wait_for(lambda: sent.keys() <= rig.arrived.keys(), timeout=300, what="deliveries")
        out.close()
    latencies = [rig.arrived[alert_id][0] - at for alert_id, at in sent.items()]
    heading = f"at {args.rate:g}/s" + ("  (with a hung endpoint beside)" if args.hung else "")
    print_latencies(latencies, "produced -> received", heading)


if __name__ == "__main__":
    main()
