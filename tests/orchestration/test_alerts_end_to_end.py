"""The whole alert path on the real broker (issue 12, docs/alerts.md): raw events produced into
Kafka, a stream worker (``omnicx stream``) that scores them, the delivery worker and a webhook
receiver on loopback. A customer already at risk (two abandoned calls) then sends a message
saying they want to cancel and gives a detractor survey: the CRM's webhook gets one signed
alert with those signals and the customer's own id; and kill -9 of either worker around the
alert still leaves the receiver with one alert id.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import orjson
import pytest

from schemas.settings import Settings, with_overrides
from schemas.topics import topic_names
from schemas.validation import record_problems
from tests.harness import OmnicxProcess, read_topic, stream_worker, wait_for_stream
from tests.orchestration.alert_fixtures import (
    SECRET,
    SECRET_ENV,
    Received,
    delivery_caught_up,
    delivery_of,
    delivery_worker,
    receiver,
    wait_for,
    webhook_settings,
)
from tests.streams.churn_events import CHURN, CUSTOMER, abandoned_call, cancelling_chat, send

AT_RISK = [*abandoned_call("c1", 0), *abandoned_call("c2", 10)]  # abandons: 15 of the 80
TIPPING = cancelling_chat("c3", 20)  # + cancellation intent 40 + NPS detractor 30 = 85


@pytest.fixture(autouse=True)
def webhook_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)


def _settings(kafka_settings: Settings, home: Path, url: str) -> Settings:
    """A test's own topics, one webhook "crm" at ``url``, the churn threshold only all three
    signals reach, and a short session: a killed stream worker's partitions are free again
    within 8 s, not Faust's minute."""
    settings = webhook_settings(kafka_settings, home, {"crm": url})
    return with_overrides(settings, churn=CHURN, stream={"session_timeout_seconds": 8.0})


def _published(settings: Settings) -> list[dict]:
    return [orjson.loads(m.value) for m in read_topic(settings, topic_names(settings).alerts)]


def _assert_is_the_alert(received: Received, published: dict) -> None:
    """The webhook carries the published alert, signed, with the customer's raw CRM key."""
    assert received.webhook_id == published["alert_id"]
    payload = received.verified()  # the standardwebhooks verifier accepts the signature
    assert payload == {
        **published,
        "business_keys": {"customer_id": [CUSTOMER["customer_id"]], "account_id": []},
    }
    assert record_problems("alert", published) == []
    assert (payload["reason"], payload["score"], payload["threshold"]) == ("flagged", 85, 80)
    assert [(s["signal"], s["weight"]) for s in payload["signals"]] == [
        ("cancellation_intent", 40),
        ("nps_detractor", 30),
        ("abandons", 15),
    ]
    evidence = {s["signal"]: [e["contact_id"] for e in s["evidence"]] for s in payload["signals"]}
    assert evidence == {
        "cancellation_intent": ["c3"],
        "nps_detractor": ["c3"],
        "abandons": ["c1", "c2"],
    }
    assert payload["trigger_event_id"] in {e["event_id"] for e in [*AT_RISK, *TIPPING]}


def test_a_customer_at_risk_who_wants_to_cancel_reaches_the_crm_webhook_once(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    with receiver() as http:
        settings = _settings(kafka_settings, tmp_path, http.url("/crm"))
        with delivery_worker(settings), stream_worker(settings) as stream:
            send(settings, AT_RISK)
            wait_for_stream(settings, [stream])
            assert _published(settings) == []  # at risk, under the threshold: no alert yet
            send(settings, TIPPING)
            wait_for(lambda: http.on("/crm"), timeout=120, what="the alert at the webhook")
            wait_for_stream(settings, [stream])
            wait_for(lambda: delivery_caught_up(settings), what="the delivery committed")

    [published] = _published(settings)
    [received] = http.on("/crm")
    _assert_is_the_alert(received, published)
    # Sent after the customer's abandons were scored, the survey tipped the score over 80.
    assert published["trigger_event_id"] == TIPPING[-1]["event_id"]
    delivered = delivery_of(settings, published["alert_id"], "webhook:crm")
    assert (delivered.status, delivered.attempts) == ("delivered", 1)


def test_kill_9_of_the_stream_after_its_alert_and_of_the_delivery_before_recording(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    """Crashes on both sides of the ``alerts`` topic, as ``omnicx`` processes:

    1. The stream worker is killed with SIGKILL as soon as its alert is on the topic (the test
       polls for it; Faust commits offsets every 2.8 s, so most likely before they are) and
       restarted. It reads the uncommitted messages again: if the kill came before its churn
       state was written, it publishes the same alert again under the same id; if after,
       nothing. Never another id: the topic holds one alert id, once or twice, and the
       delivery log sends each id once.
    2. The delivery worker is killed with SIGKILL while the receiver holds its first request
       (sent, not yet recorded), and restarted: it sends the alert again, with the same
       ``webhook-id``.

    Guarantee: the receiver gets exactly one alert id, at least once; two requests here, both
    signed, same ``webhook-id`` and payload, which a receiver deduplicating by ``webhook-id``
    (as the Standard Webhooks specification asks, docs/alerts.md) processes once. Exactly
    once without that deduplication holds for crashes of the stream (step 1), not for a crash
    of the delivery worker between sending and recording (step 2).
    """
    deliverers: list[OmnicxProcess] = []

    def kill_the_deliverer_on_the_first_request(_request: Received, before: int) -> int:
        if before == 0:  # sent, the answer not yet read: nothing recorded as delivered
            os.kill(deliverers[0].process.pid, signal.SIGKILL)
            return 503
        return 200

    with receiver({"/crm": kill_the_deliverer_on_the_first_request}) as http:
        # Faust's own commit interval, not the tests' short one: step 1 counts on the kill
        # coming before the commit most of the time.
        settings = with_overrides(
            _settings(kafka_settings, tmp_path, http.url("/crm")),
            stream={"commit_interval_seconds": 2.8},
        )
        send(settings, [*AT_RISK, *TIPPING])
        stream = OmnicxProcess(settings, "stream", "--worker", "w1", log_name="stream-killed")
        try:
            wait_for(lambda: _published(settings), timeout=180, what="the stream's alert")
        finally:
            stream.kill9()
        with stream_worker(settings, "w1") as restarted:
            wait_for_stream(settings, [restarted])
        published = _published(settings)
        assert len({a["alert_id"] for a in published}) == 1 and 1 <= len(published) <= 2

        deliverers.append(OmnicxProcess(settings, "alerts", "deliver", log_name="deliver-1"))
        try:
            assert deliverers[0].process.wait(120) == -signal.SIGKILL
            alert_id = published[0]["alert_id"]
            pending = delivery_of(settings, alert_id, "webhook:crm")
            assert (pending.status, pending.attempts) == ("pending", 1)
            deliverers.append(OmnicxProcess(settings, "alerts", "deliver", log_name="deliver-2"))
            wait_for(lambda: delivery_caught_up(settings), timeout=120, what="the resent alert")
        finally:
            for deliverer in deliverers:
                deliverer.stop()

    received = http.on("/crm")
    assert [r.webhook_id for r in received] == [alert_id, alert_id]
    for request in received:
        _assert_is_the_alert(request, published[0])
    done = delivery_of(settings, alert_id, "webhook:crm")
    assert (done.status, done.attempts) == ("delivered", 2)
    assert "delivered 1, failed 0" in deliverers[1].log_path.read_text()
