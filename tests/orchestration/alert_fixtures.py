"""Test parts for the alert delivery tests: alert records of the shape of docs/alerts.md, a
real HTTP receiver on loopback, the delivery worker running in a thread of the test, a test's
settings with webhooks, and what the delivery log and the consumer group say."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
from standardwebhooks.webhooks import Webhook

from orchestration.alerts.log import DeliveryLog
from orchestration.alerts.metrics import DeliveryMetrics
from orchestration.alerts.worker import DeliveryCounts, DeliveryWorker
from orchestration.kafka.lag import wait_until_caught_up
from pipelines.kafka_io import producer
from schemas.settings import Settings, load_settings, with_overrides
from schemas.settings_env import settings_env
from schemas.topics import topic_names
from tests.harness import isolated_settings

SECRET = "whsec_" + base64.b64encode(b"omnicx-test-webhook-secret-0001").decode()
SECRET_ENV = "OMNICX_TEST_WEBHOOK_SECRET"


def alert_record(tenant: str = "brand-a", n: int = 1, **changes: Any) -> dict[str, Any]:
    """An alert exactly as the stream publishes it (docs/alerts.md)."""
    customer = f"customer_id:{hashlib.sha256(f'{tenant}{n}'.encode()).hexdigest()[:32]}"
    account = f"account_id:{hashlib.sha256(f'acct{tenant}{n}'.encode()).hexdigest()[:32]}"
    trigger = f"ev-{n:04d}"
    alert_hash = hashlib.sha256(f"{tenant}|{customer}|{trigger}|flagged".encode()).hexdigest()
    record = {
        "alert_id": f"al-{alert_hash[:24]}",
        "tenant": tenant,
        "customer_key": customer,
        "customer_ids": [account, customer],
        "reason": "flagged",
        "score": 70,
        "previous_score": 40,
        "threshold": 50,
        "signals": [
            {
                "signal": "cancellation_intent",
                "weight": 40,
                "evidence": [{"contact_id": f"ct-{n}-2", "at": "2026-01-05T09:20:00Z"}],
            },
            {
                "signal": "nps_detractor",
                "weight": 30,
                "evidence": [{"contact_id": f"ct-{n}-1", "at": "2026-01-05T09:12:00Z"}],
            },
        ],
        "trigger_event_id": trigger,
        "trigger_occurred_at": "2026-01-05T09:20:00Z",
        "created_at": "2026-01-05T09:20:01.123Z",
        "knob_set": "ks-test",
        "schema_version": 1,
    }
    return {**record, **changes}


def business_key(tenant: str, identifier: str, value: str) -> tuple[bytes, bytes]:
    """A record of the business-keys topic (key, value)."""
    kind = identifier.split(":", 1)[0]
    record = {"tenant": tenant, "kind": kind, "identifier": identifier, "value": value}
    return f"{tenant}|{identifier}".encode(), orjson.dumps(record)


def produce_alerts(
    settings: Settings,
    alerts: list[dict[str, Any]],
    keys: list[tuple[bytes, bytes]] = (),
) -> None:
    names = topic_names(settings)
    out = producer(settings)
    try:
        for key, value in keys:
            out.send(names.business_keys, key=key, value=value)
        out.flush()
        for alert in alerts:
            out.send(names.alerts, key=alert["customer_key"].encode(), value=orjson.dumps(alert))
        out.flush()
    finally:
        out.close()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def verified(self, secret: str = SECRET) -> dict[str, Any]:
        """The payload, after the standardwebhooks verifier accepted the signature."""
        return Webhook(secret).verify(self.body, self.headers)


@dataclass
class Receiver:
    """A real HTTP server on loopback. Each path answers as ``behaviours`` says: a function of
    (the request, how many requests that path got before it with the same webhook-id) to a
    status; the default is 200. ``release`` ends every hang."""

    behaviours: dict[str, Callable[[Received, int], int]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def on(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def hang(self, _request: Received, _before: int) -> int:
        self.release.wait(120)  # bounded: the test releases it long before
        return 200


def fail_first(status: int) -> Callable[[Received, int], int]:
    return lambda _request, before: status if before == 0 else 200


@contextmanager
def receiver(behaviours: dict[str, Callable[[Received, int], int]] | None = None):
    state = Receiver(behaviours or {})

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            request = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            with state.lock:
                before = sum(
                    1 for r in state.received
                    if r.path == request.path and r.webhook_id == request.webhook_id
                )  # fmt: skip
                state.received.append(request)
            status = state.behaviours.get(self.path, lambda *_: 200)(request, before)
            try:
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()
            except OSError:
                pass  # the client gave up (its timeout) while this request hung

        def log_message(self, *_args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()


@dataclass
class RunningWorker:
    thread: threading.Thread
    loop: asyncio.AbstractEventLoop | None = None
    stop_event: asyncio.Event | None = None
    counts: DeliveryCounts | None = None
    metrics: DeliveryMetrics | None = None
    error: BaseException | None = None

    def stop(self) -> DeliveryCounts:
        self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(60)
        assert not self.thread.is_alive(), "the delivery worker did not stop"
        if self.error is not None:
            raise self.error
        return self.counts


@contextmanager
def delivery_worker(settings: Settings, **options: Any) -> Iterator[RunningWorker]:
    """The delivery worker in a thread of its own (its own event loop), stopped on exit."""
    started = threading.Event()
    running = RunningWorker(threading.Thread(target=lambda: None))

    async def main() -> None:
        running.loop = asyncio.get_running_loop()
        running.stop_event = asyncio.Event()
        started.set()
        worker = DeliveryWorker(settings, **options)
        running.metrics = worker.metrics
        running.counts = await worker.run(running.stop_event)

    def target() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:
            running.error = exc
            started.set()

    running.thread = threading.Thread(target=target, daemon=True)
    running.thread.start()
    started.wait(30)
    try:
        yield running
    finally:
        if running.thread.is_alive():
            running.stop()
        elif running.error is not None:  # it died: that is the failure to show
            raise running.error


def wait_for(condition: Callable[[], Any], timeout: float = 60, what: str = "") -> Any:
    """Poll ``condition`` until it returns something true, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or condition}")


def webhook_settings(
    kafka_settings: Settings, home: Path, hooks: dict[str, str], **alerts
) -> Settings:
    """A test's own topics and home, with webhooks {name: url} (a name ending in -b takes only
    brand-b's alerts) and quick retries."""
    settings = isolated_settings(kafka_settings, home)
    webhooks = [
        {"name": name, "url": url, "secret_env": SECRET_ENV,
         "tenants": ["brand-b"] if name.endswith("-b") else []}
        for name, url in hooks.items()
    ]  # fmt: skip
    env = settings_env(settings)
    env["OMNICX_ALERTS_WEBHOOKS"] = orjson.dumps(webhooks).decode()
    settings = load_settings(environ=env, config_file=None)  # the settings' own validation
    defaults = {"backoff_initial_seconds": 0.05, "backoff_max_seconds": 0.2}
    return with_overrides(
        settings,
        pii_key=kafka_settings.pii_key,
        alerts={"group_id": f"deliver-{settings.topics.prefix}", **defaults, **alerts},
    )


def delivery_of(settings: Settings, alert_id: str, channel: str):
    log = DeliveryLog(settings.alert_delivery_log)
    try:
        return log.delivery(alert_id, channel)
    finally:
        log.close()


def delivery_caught_up(settings: Settings) -> bool:
    """Whether the delivery group committed every alert (a final outcome for each)."""
    lag = wait_until_caught_up(
        settings, settings.alerts.group_id, [topic_names(settings).alerts], 60
    )
    return not any(lag.values())
