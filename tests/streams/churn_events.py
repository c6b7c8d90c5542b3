"""Raw events of a customer at risk who then wants to cancel (two abandoned calls, then a chat
saying so and a detractor survey), for the real-broker churn tests of the stream and of the
whole alert path (docs/alerts.md)."""

from __future__ import annotations

import orjson

from pipelines.kafka_io import producer
from schemas.settings import Settings
from schemas.topics import topic_names

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
