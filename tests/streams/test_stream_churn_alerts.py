"""Churn alerts on the real broker (docs/alerts.md): a customer already at risk (two abandoned
calls) sends a message saying they want to cancel and then a detractor survey; the stream
worker emits exactly one alert on the ``alerts`` topic, with those signals, and the raw CRM key
only on the operators' ``business-keys`` topic. A worker that starts over without any state
(as after losing it) replays the run and emits the same alert id again, never a new one; a
worker restarted on its state emits nothing new for the same events sent again.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from pipelines.kafka_io import producer
from schemas.settings import Settings, with_overrides
from schemas.topics import topic_names
from schemas.validation import record_problems
from streams.churn import alert_id
from tests.harness import isolated_settings, read_topic, stream_worker, wait_for_stream

CUSTOMER = {"customer_id": "CUST-31337"}
# Abandons (15) + cancellation intent (40) + NPS detractor (30) = 85: only all three flag.
CHURN = {"threshold": 80}


def event(event_type: str, contact_id: str, minute: int, **fields) -> dict:
    return {
        "event_id": f"{contact_id}-{event_type}-{minute}",
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": f"2026-01-05T09:{minute:02d}:00Z",
        "tenant": "acme",
        "channel": "voice",
        "contact_id": contact_id,
        **fields,
    }


def abandoned_call(contact_id: str, minute: int) -> list[dict]:
    return [
        event("contact.started", contact_id, minute, direction="inbound", customer=CUSTOMER),
        event("contact.queued", contact_id, minute + 1, queue="billing"),
        event("contact.abandoned", contact_id, minute + 3),
    ]


def cancelling_chat(contact_id: str, minute: int) -> list[dict]:
    chat = {"channel": "chat"}
    text = {"author": "customer", "text": "I want to cancel my subscription"}
    return [
        event(
            "contact.started", contact_id, minute, direction="inbound", customer=CUSTOMER, **chat
        ),
        event("contact.queued", contact_id, minute + 1, queue="billing", **chat),
        event("contact.answered", contact_id, minute + 2, agent_id="a1", **chat),
        event("message.received", contact_id, minute + 3, attributes=text, **chat),
        event("contact.ended", contact_id, minute + 5, **chat),
        event(
            "contact.wrapped_up",
            contact_id,
            minute + 6,
            attributes={"disposition": "resolved"},
            **chat,
        ),
        event("survey.completed", contact_id, minute + 8, attributes={"nps": 2}, **chat),
    ]


def send(settings: Settings, events: list[dict]) -> None:
    client = producer(settings, enable_idempotence=True)
    try:
        for e in events:
            key = e["contact_id"].encode()
            client.send(topic_names(settings).raw_events, key=key, value=orjson.dumps(e))
        client.flush(timeout=30)
    finally:
        client.close()


def alerts(settings: Settings) -> list[dict]:
    return [orjson.loads(m.value) for m in read_topic(settings, topic_names(settings).alerts)]


def run_worker(settings: Settings, name: str = "worker-1") -> None:
    with stream_worker(settings, name) as worker:
        wait_for_stream(settings, [worker])


@pytest.fixture
def settings(kafka_settings: Settings, tmp_path: Path) -> Settings:
    return with_overrides(isolated_settings(kafka_settings, tmp_path), churn=CHURN)


def test_a_customer_at_risk_who_wants_to_cancel_raises_one_alert_and_replays_keep_its_id(
    settings: Settings,
) -> None:
    run = [*abandoned_call("c1", 0), *abandoned_call("c2", 10), *cancelling_chat("c3", 20)]
    send(settings, run)
    run_worker(settings)

    [alert] = alerts(settings)
    assert record_problems("alert", alert) == []
    assert (alert["reason"], alert["score"], alert["threshold"]) == ("flagged", 85, 80)
    assert [(s["signal"], s["weight"]) for s in alert["signals"]] == [
        ("cancellation_intent", 40),
        ("nps_detractor", 30),
        ("abandons", 15),
    ]
    evidence = {s["signal"]: [e["contact_id"] for e in s["evidence"]] for s in alert["signals"]}
    assert evidence == {
        "cancellation_intent": ["c3"],
        "nps_detractor": ["c3"],
        "abandons": ["c1", "c2"],
    }
    [hashed] = alert["customer_ids"]
    assert hashed.startswith("customer_id:") and alert["customer_key"] == hashed
    expected_id = alert_id("acme", hashed, alert["trigger_event_id"], "flagged")
    assert alert["alert_id"] == expected_id
    # The raw CRM key travels only on the operators' topic, keyed by its hash.
    keys = read_topic(settings, topic_names(settings).business_keys)
    assert [(m.key, orjson.loads(m.value)) for m in keys] == [
        (
            f"acme|{hashed}".encode(),
            {"tenant": "acme", "kind": "customer_id", "identifier": hashed, "value": "CUST-31337"},
        )
    ]
    assert all(
        b"CUST-31337" not in m.value for m in read_topic(settings, topic_names(settings).alerts)
    )

    # Restarted on its state, the same events sent again change nothing.
    send(settings, run)
    run_worker(settings)
    assert [a["alert_id"] for a in alerts(settings)] == [expected_id]

    # A worker without any state (another app id and state directory: empty tables, topics
    # read from the start) replays the whole run: the same alert again, under the same id.
    fresh = with_overrides(settings, stream={"app_id": settings.stream.app_id + "-fresh"})
    run_worker(fresh, "worker-fresh")
    replayed = alerts(settings)
    assert len(replayed) == 2
    assert {a["alert_id"] for a in replayed} == {expected_id}
    assert replayed[1]["signals"] == alert["signals"]
