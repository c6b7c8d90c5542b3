"""Alert delivery latency: alert produced on the ``alerts`` topic -> signed webhook received, on
a real broker and a loopback receiver, through the delivery worker (``omnicx alerts deliver``).

    .venv/bin/python -m benchmarks.bench_alert_delivery [--alerts 200] [--rate 20] [--hung]
    (from the repository root: it reuses the test parts in tests/)

It starts its own broker on free ports under a temporary directory and the delivery worker in a
thread, then produces ``--alerts`` alerts at ``--rate`` a second (each flushed alone, as the
stream sends them) and times each from its send to its arrival at the receiver. With
``--hung``, a second endpoint hangs on every request for the whole run: the live endpoint's
figures show what a dead receiver costs the others. This is the delivery half of the issue's
event -> webhook latency (the scoring half is the stream's). Prints p50/p95/p99; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import orjson

from orchestration.kafka.broker import LocalBroker
from pipelines.kafka_io import producer
from schemas.settings import WebhookSettings, with_overrides
from schemas.topics import topic_names
from tests.conftest import broker_settings
from tests.harness import isolated_settings
from tests.orchestration.alert_fixtures import (
    SECRET,
    SECRET_ENV,
    alert_record,
    delivery_worker,
    receiver,
    wait_for,
)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0, help="alerts produced per second")
    parser.add_argument("--hung", action="store_true", help="add an endpoint that never answers")
    args = parser.parse_args()
    os.environ[SECRET_ENV] = SECRET
    arrived: dict[str, float] = {}
    lock = threading.Lock()

    def arrive(request, _before: int) -> int:
        with lock:
            arrived.setdefault(request.webhook_id, time.monotonic())
        return 200

    with tempfile.TemporaryDirectory(prefix="omnicx-bench-") as tmp:
        base = broker_settings(Path(tmp))
        broker = LocalBroker(base)
        broker.start()
        sent: dict[str, float] = {}
        try:
            with receiver({"/live": arrive}) as http:
                http.behaviours["/hang"] = http.hang
                hooks = [{"name": "live", "url": http.url("/live"), "secret_env": SECRET_ENV}]
                if args.hung:
                    hooks.append({"name": "hung", "url": http.url("/hang"),
                                  "secret_env": SECRET_ENV})  # fmt: skip
                settings = isolated_settings(base, Path(tmp) / "run")
                settings = with_overrides(
                    settings,
                    alerts={
                        "group_id": "bench-delivery",
                        "webhooks": tuple(WebhookSettings(**h) for h in hooks),
                        "request_timeout_seconds": 30.0,
                    },
                )
                topic = topic_names(settings).alerts
                out = producer(settings, linger_ms=0)
                with delivery_worker(settings):
                    # A first alert, not measured: the worker has joined its group.
                    warm_up = alert_record("brand-warm-up", 0)
                    out.send(topic, key=b"w", value=orjson.dumps(warm_up)).get(30)
                    wait_for(lambda: warm_up["alert_id"] in arrived, what="the warm-up alert")
                    for n in range(1, args.alerts + 1):
                        alert = alert_record(f"brand-{n % 3}", n)
                        sent[alert["alert_id"]] = time.monotonic()
                        out.send(topic, key=alert["customer_key"].encode(),
                                 value=orjson.dumps(alert))  # fmt: skip
                        out.flush()
                        time.sleep(1 / args.rate)
                    wait_for(lambda: len(arrived) >= len(sent), timeout=300, what="deliveries")
                out.close()
        finally:
            broker.stop()
    latencies = [arrived[alert_id] - at for alert_id, at in sent.items()]
    print(f"alerts                     {len(latencies):>8}  at {args.rate:g}/s"
          + ("  (with a hung endpoint beside)" if args.hung else ""))  # fmt: skip
    for name, share in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        print(f"produced -> received {name}    {percentile(latencies, share) * 1000:>8.1f} ms")
    print(f"mean                       {statistics.fmean(latencies) * 1000:>8.1f} ms")
    print(f"max                        {max(latencies) * 1000:>8.1f} ms")


if __name__ == "__main__":
    main()
