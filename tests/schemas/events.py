"""The contract as the tests read it from ../shared/spec/events.md, written out independently
of schemas/json/ so that a wrong schema file fails a test instead of agreeing with itself."""

from __future__ import annotations

from typing import Any

ENVELOPE_REQUIRED = ("event_id", "event_type", "schema_version", "occurred_at", "tenant")
CHANNELS = ("voice", "email", "chat", "sms", "social")
IDENTIFIER_KINDS = (
    "customer_id",
    "account_id",
    "phone",
    "email",
    "chat_visitor_id",
    "social_handle",
)

_CONTACT = ("channel", "contact_id")
# Fields each type needs beyond the envelope's five ("attributes" only for the survey scores).
REQUIRED_BY_TYPE: dict[str, tuple[str, ...]] = {
    "contact.started": (*_CONTACT, "direction", "customer"),
    "ivr.message_played": ("contact_id",),
    "contact.deflected": _CONTACT,
    "contact.queued": (*_CONTACT, "queue"),
    "contact.answered": (*_CONTACT, "agent_id"),
    "contact.abandoned": _CONTACT,
    "contact.hold_started": _CONTACT,
    "contact.hold_ended": _CONTACT,
    "contact.transferred": _CONTACT,
    "contact.ended": _CONTACT,
    "contact.wrapped_up": _CONTACT,
    "message.received": _CONTACT,
    "message.sent": _CONTACT,
    "survey.completed": (*_CONTACT, "attributes"),
    "outbound.attempted": _CONTACT,
    "customer.opted_out": (),
    "identity.linked": ("customer",),
    "agent.state_changed": ("agent_id",),
}
EVENT_TYPES = tuple(REQUIRED_BY_TYPE)

# (event type, attribute, every value the contract allows)
ATTRIBUTE_ENUMS: list[tuple[str, str, tuple[str, ...]]] = [
    ("ivr.message_played", "kind", ("outage", "advice", "greeting")),
    ("contact.deflected", "cause", ("self_service", "front_end_message", "ivr_menu")),
    ("contact.transferred", "mode", ("warm", "cold")),
    ("contact.ended", "ended_by", ("customer", "agent", "system")),
    ("contact.wrapped_up", "disposition", ("resolved", "unresolved", "escalated", "follow_up")),
    ("message.received", "author", ("customer", "agent", "bot")),
    ("message.sent", "author", ("customer", "agent", "bot")),
    ("outbound.attempted", "dialer", ("predictive", "preview", "manual")),
    ("outbound.attempted", "result", ("connected", "no_answer", "busy", "voicemail", "failed")),
    (
        "agent.state_changed",
        "state",
        ("available", "busy", "after_contact_work", "break", "offline"),
    ),
]
# survey score: (lowest, highest)
SCORES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}

_FILLERS: dict[str, Any] = {
    "channel": "chat",
    "direction": "inbound",
    "contact_id": "contact-1",
    "agent_id": "agent-7",
    "queue": "billing",
}
_IDENTIFIERS = {"phone": "+33612345678", "email": "a@b.example"}


def minimal_event(event_type: str) -> dict[str, Any]:
    """The smallest valid event of a type: the envelope and the fields the type needs."""
    event: dict[str, Any] = {
        "event_id": f"evt-{event_type}",
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": "2026-01-05T09:00:00Z",
        "tenant": "acme",
    }
    for name in REQUIRED_BY_TYPE[event_type]:
        if name == "customer":
            count = 2 if event_type == "identity.linked" else 1
            event[name] = dict(list(_IDENTIFIERS.items())[:count])
        elif name == "attributes":
            event[name] = {"nps": 9}
        else:
            event[name] = _FILLERS[name]
    return event
