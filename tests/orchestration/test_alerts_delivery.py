"""The alert delivery worker against the session's real broker and real HTTP receivers on
loopback: signed and complete webhooks, retries, isolation of a hung receiver, no resend after
a restart or a replay, and at-least-once with the same webhook-id after a kill -9."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import orjson
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from orchestration.kafka.lag import consumer_lag
from pipelines.kafka_io import producer
from schemas.settings import Settings, with_overrides
from schemas.topics import topic_names
from tests.harness import OmnicxProcess, read_topic
from tests.orchestration.alert_fixtures import (
    SECRET,
    SECRET_ENV,
    alert_record,
    business_key,
    delivery_caught_up,
    delivery_of,
    delivery_worker,
    fail_first,
    produce_alerts,
    receiver,
    wait_for,
    webhook_settings,
)


@pytest.fixture(autouse=True)
def webhook_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)


def test_webhooks_are_signed_complete_and_routed_by_tenant(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    with receiver() as http:
        settings = webhook_settings(
            kafka_settings, tmp_path, {"crm": http.url("/all"), "crm-b": http.url("/b")}
        )
        a, b = alert_record("brand-a", 1), alert_record("brand-b", 2)
        customer_id, account_id = a["customer_key"], a["customer_ids"][0]
        keys = [
            business_key("brand-a", customer_id, "C-000123"),
            business_key("brand-a", account_id, "ACC-77"),
            business_key("brand-a", "phone:ffff", "+33612345678"),  # not a business key kind
        ]
        produce_alerts(settings, [a, b], keys)
        with delivery_worker(settings):
            wait_for(lambda: len(http.on("/all")) == 2 and http.on("/b"), what="deliveries")
            assert delivery_caught_up(settings)

        by_id = {r.webhook_id: r for r in http.on("/all")}
        assert set(by_id) == {a["alert_id"], b["alert_id"]}
        payload = by_id[a["alert_id"]].verified()  # the standardwebhooks verifier accepts it
        assert payload == {
            **a,
            "business_keys": {"customer_id": ["C-000123"], "account_id": ["ACC-77"]},
        }
        assert "+33612345678" not in by_id[a["alert_id"]].body.decode()
        assert by_id[b["alert_id"]].verified()["business_keys"] == {
            "customer_id": [],
            "account_id": [],
        }
        # The brand-b endpoint got brand-b's alert only.
        assert [r.webhook_id for r in http.on("/b")] == [b["alert_id"]]
        # Signed with another secret, the verifier refuses it.
        other = Webhook("whsec_" + "b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldA==")
        with pytest.raises(WebhookVerificationError):
            other.verify(by_id[a["alert_id"]].body, by_id[a["alert_id"]].headers)
        # Outcomes reach the alert-deliveries topic for the warehouse.
        outcomes = [
            orjson.loads(m.value)
            for m in read_topic(settings, topic_names(settings).alert_deliveries)
        ]
        assert sorted((o["alert_id"], o["channel"], o["status"]) for o in outcomes) == sorted(
            [
                (a["alert_id"], "webhook:crm", "delivered"),
                (b["alert_id"], "webhook:crm", "delivered"),
                (b["alert_id"], "webhook:crm-b", "delivered"),
            ]
        )
        assert all(o["attempts"] == 1 and o["last_error"] is None for o in outcomes)


def test_a_500_is_retried_and_the_alert_delivered_once(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    with receiver({"/flaky": fail_first(500), "/gone": lambda *_: 410}) as http:
        settings = webhook_settings(
            kafka_settings, tmp_path, {"flaky": http.url("/flaky"), "gone": http.url("/gone")}
        )
        alert = alert_record("brand-a", 3)
        produce_alerts(settings, [alert])
        with delivery_worker(settings) as worker:
            wait_for(lambda: delivery_caught_up(settings), what="the alert's outcomes")
            counts = worker.stop()

    attempts = http.on("/flaky")
    assert [r.webhook_id for r in attempts] == [alert["alert_id"]] * 2
    assert all(r.verified() == attempts[0].verified() for r in attempts)
    flaky = delivery_of(settings, alert["alert_id"], "webhook:flaky")
    assert (flaky.status, flaky.attempts, flaky.last_error) == ("delivered", 2, "HTTP 500")
    # A refusal (410) is not retried: failed at once, with its error, offset committed.
    gone = delivery_of(settings, alert["alert_id"], "webhook:gone")
    assert (gone.status, gone.attempts, gone.last_error) == ("failed", 1, "HTTP 410")
    assert len(http.on("/gone")) == 1
    assert (counts.delivered, counts.failed) == (1, 1)
    sample = worker.metrics.registry.get_sample_value
    assert (
        sample(
            "omnicx_alerts_deliveries_total", {"channel": "webhook:flaky", "status": "delivered"}
        )
        == 1
    )
    assert (
        sample("omnicx_alerts_deliveries_total", {"channel": "webhook:gone", "status": "failed"})
        == 1
    )
    assert sample("omnicx_alerts_failed_attempts_total", {"channel": "webhook:flaky"}) == 1


def test_a_hung_receiver_does_not_hold_the_other_endpoint(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    with receiver() as http:
        http.behaviours["/hang"] = http.hang
        settings = webhook_settings(
            kafka_settings,
            tmp_path,
            {"hung": http.url("/hang"), "live": http.url("/live")},
            request_timeout_seconds=1.0,
            channel_concurrency=1,
            max_attempts=3,
        )
        alerts = [alert_record("brand-a", n) for n in range(10, 16)]
        produce_alerts(settings, alerts)
        with delivery_worker(settings):
            # Every alert reaches the live endpoint while the other one hangs on the first.
            wait_for(lambda: len(http.on("/live")) == len(alerts), what="live deliveries")
            assert not http.release.is_set()
            assert {r.webhook_id for r in http.on("/live")} == {a["alert_id"] for a in alerts}
            held = wait_for(lambda: http.on("/hang"), what="the hung request")[0].webhook_id
            # The hung channel's alerts are not committed: a crash now would lose nothing.
            lag = consumer_lag(settings, settings.alerts.group_id, [topic_names(settings).alerts])
            assert sum(lag.values()) > 0

            # Each attempt ends at the request timeout: the held alert fails after 3.
            def held_failed() -> bool:
                found = delivery_of(settings, held, "webhook:hung")
                return found is not None and found.status == "failed"

            wait_for(held_failed, what="the hung endpoint's first alert to fail")
            first = delivery_of(settings, held, "webhook:hung")
            assert (first.attempts, first.last_error) == (3, "no answer within 1 s")
            assert [r.webhook_id for r in http.on("/hang")][:3] == [held] * 3
            http.release.set()  # the receiver answers again: the rest goes through
            wait_for(lambda: delivery_caught_up(settings), what="every outcome")
        ids = [a["alert_id"] for a in alerts]
        statuses = {i: delivery_of(settings, i, "webhook:hung").status for i in ids}
        assert statuses == {i: "failed" if i == held else "delivered" for i in ids}


def test_a_restart_or_a_replayed_alert_sends_nothing_twice(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    with receiver() as http:
        settings = webhook_settings(kafka_settings, tmp_path, {"crm": http.url("/crm")})
        first = [alert_record("brand-a", n) for n in range(20, 23)]
        produce_alerts(settings, first)
        with delivery_worker(settings):
            wait_for(lambda: len(http.on("/crm")) == 3 and delivery_caught_up(settings), what="3")
        # Restarted, with the same alerts published again (a stream replay) and a new one.
        late = alert_record("brand-a", 23)
        produce_alerts(settings, [*first, late])
        with delivery_worker(settings) as worker:
            wait_for(lambda: delivery_caught_up(settings), what="the replay and the new alert")
            counts = worker.stop()
        # And once more with offsets back at the start of the topic: still nothing new.
        reset = with_overrides(settings, alerts={"group_id": settings.alerts.group_id + "-b"})
        with delivery_worker(reset) as worker:
            wait_for(lambda: delivery_caught_up(reset), what="a whole re-read")
            again = worker.stop()

    ids = [r.webhook_id for r in http.on("/crm")]
    assert sorted(ids) == sorted(a["alert_id"] for a in [*first, late])
    assert (counts.delivered, counts.skipped) == (1, 3)
    assert (again.delivered, again.skipped) == (0, 7)  # every record of the topic


def test_kill_9_after_sending_before_recording_resends_with_the_same_webhook_id(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    """At least once: the receiver got the alert, the worker died before writing it down, so
    the restarted worker sends it again, with the same webhook-id, by which receivers dedupe."""
    workers: list[OmnicxProcess] = []

    def kill_then_accept(_request, before: int) -> int:
        if before == 0:  # the worker has sent it and waits for the answer: kill it now
            os.kill(workers[0].process.pid, signal.SIGKILL)
            return 503
        return 200

    with receiver({"/crm": kill_then_accept}) as http:
        settings = webhook_settings(kafka_settings, tmp_path, {"crm": http.url("/crm")})
        alert = alert_record("brand-a", 30)
        produce_alerts(settings, [alert])
        workers.append(OmnicxProcess(settings, "alerts", "deliver", log_name="deliver-1"))
        try:
            assert workers[0].process.wait(120) == -signal.SIGKILL
            assert len(http.on("/crm")) == 1
            pending = delivery_of(settings, alert["alert_id"], "webhook:crm")
            assert (pending.status, pending.attempts) == ("pending", 1)
            workers.append(OmnicxProcess(settings, "alerts", "deliver", log_name="deliver-2"))
            wait_for(lambda: delivery_caught_up(settings), what="the resent alert", timeout=120)
        finally:
            for worker in workers:
                worker.stop()

    received = http.on("/crm")
    assert [r.webhook_id for r in received] == [alert["alert_id"]] * 2
    assert len({r.webhook_id for r in received}) == 1  # what a receiver keeps, deduped by id
    assert received[0].verified() == received[1].verified()
    done = delivery_of(settings, alert["alert_id"], "webhook:crm")
    assert (done.status, done.attempts) == ("delivered", 2)
    assert "delivered 1, failed 0" in workers[1].log_path.read_text()


def test_a_record_that_is_not_an_alert_is_a_dead_letter_and_blocks_nothing(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    with receiver() as http:
        settings = webhook_settings(kafka_settings, tmp_path, {"crm": http.url("/crm")})
        names = topic_names(settings)
        good = alert_record("brand-a", 40)
        out = producer(settings)
        out.send(names.alerts, key=b"k", value=b'{"alert_id": "al-x", "tenant": 42}').get(30)
        out.close()
        produce_alerts(settings, [good])
        with delivery_worker(settings) as worker:
            wait_for(lambda: delivery_caught_up(settings), what="both records committed")
            counts = worker.stop()

    assert [r.webhook_id for r in http.on("/crm")] == [good["alert_id"]]
    assert (counts.delivered, counts.invalid) == (1, 1)
    [dead] = [orjson.loads(m.value) for m in read_topic(settings, names.dead_letters)]
    assert (dead["topic"], dead["errors"]) == (
        names.alerts,
        ["$: not an alert record: tenant: missing or not a str"],
    )
    [raw] = [orjson.loads(m.value) for m in read_topic(settings, names.dead_letters_raw)]
    assert raw["dead_letter_id"] == dead["dead_letter_id"] and raw["raw_base64"]


def test_retry_failed_sends_the_failed_deliveries_again_once_the_endpoint_is_fixed(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    with receiver({"/crm": lambda *_: 404}) as http:
        settings = webhook_settings(kafka_settings, tmp_path, {"crm": http.url("/crm")})
        alert = alert_record("brand-a", 50)
        produce_alerts(settings, [alert])
        with delivery_worker(settings):
            wait_for(lambda: delivery_caught_up(settings), what="the failure")
        failed = delivery_of(settings, alert["alert_id"], "webhook:crm")
        assert (failed.status, failed.attempts, failed.last_error) == ("failed", 1, "HTTP 404")
        http.behaviours["/crm"] = lambda *_: 200  # the operator fixed the endpoint
        with delivery_worker(settings) as worker:  # a plain restart leaves it failed ...
            wait_for(lambda: delivery_caught_up(settings), what="a plain restart")
            plain = worker.stop()
        assert (plain.delivered, plain.failed, len(http.on("/crm"))) == (0, 0, 1)
        with delivery_worker(settings, retry_failed=True) as worker:
            wait_for(lambda: len(http.on("/crm")) == 2, what="the retried delivery")
            counts = worker.stop()

    assert counts.delivered == 1
    done = delivery_of(settings, alert["alert_id"], "webhook:crm")
    assert (done.status, done.attempts) == ("delivered", 1)
    outcomes = [
        orjson.loads(m.value) for m in read_topic(settings, topic_names(settings).alert_deliveries)
    ]
    assert [o["status"] for o in outcomes] == [
        "failed",
        "delivered",
    ]  # the warehouse keeps the last


def test_the_stream_catches_up_while_a_receiver_hangs(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    """Delivery is another process and consumer group: with a receiver hanging on an alert, a
    stream worker still processes a simulated day to zero lag."""
    from pipelines.producer import produce
    from pipelines.simulator.config import FaultRates, SimulationConfig
    from pipelines.simulator.run import Simulation
    from tests.harness import stream_worker, wait_for_stream

    with receiver() as http:
        http.behaviours["/hang"] = http.hang
        settings = webhook_settings(
            kafka_settings, tmp_path, {"hung": http.url("/hang")}, request_timeout_seconds=300.0
        )
        alert = alert_record("brand-a", 60)
        produce_alerts(settings, [alert])
        with delivery_worker(settings):
            wait_for(lambda: http.on("/hang"), what="the receiver to hang")
            config = SimulationConfig(
                seed=5, agents=9, tenants=2, load=0.3, faults=FaultRates.none()
            )
            messages = list(Simulation(config, settings).messages())
            produce(messages, settings)
            with stream_worker(settings) as worker:
                wait_for_stream(settings, [worker])  # raw events and identity: lag 0
            # All the while, the receiver held the alert: nothing answered, nothing recorded.
            held = delivery_of(settings, alert["alert_id"], "webhook:hung")
            assert (held.status, held.attempts, http.release.is_set()) == ("pending", 1, False)
            http.release.set()
            wait_for(lambda: delivery_caught_up(settings), what="the delivery once released")
    assert delivery_of(settings, alert["alert_id"], "webhook:hung").status == "delivered"
    assert len(messages) > 1000
