"""Typed names for the event contract, for code that wants them.

The stream passes plain dicts (what :func:`schemas.validation.validate` returns) because that is
fast; these enums and :class:`Envelope` are for code where readability matters more. The JSON
Schema files stay the source of truth: tests check that these names match them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

SCHEMA_VERSION = 1


class EventType(StrEnum):
    CONTACT_STARTED = "contact.started"
    IVR_MESSAGE_PLAYED = "ivr.message_played"
    CONTACT_DEFLECTED = "contact.deflected"
    CONTACT_QUEUED = "contact.queued"
    CONTACT_ANSWERED = "contact.answered"
    CONTACT_ABANDONED = "contact.abandoned"
    CONTACT_HOLD_STARTED = "contact.hold_started"
    CONTACT_HOLD_ENDED = "contact.hold_ended"
    CONTACT_TRANSFERRED = "contact.transferred"
    CONTACT_ENDED = "contact.ended"
    CONTACT_WRAPPED_UP = "contact.wrapped_up"
    MESSAGE_RECEIVED = "message.received"
    MESSAGE_SENT = "message.sent"
    SURVEY_COMPLETED = "survey.completed"
    OUTBOUND_ATTEMPTED = "outbound.attempted"
    CUSTOMER_OPTED_OUT = "customer.opted_out"
    IDENTITY_LINKED = "identity.linked"
    AGENT_STATE_CHANGED = "agent.state_changed"


class Channel(StrEnum):
    VOICE = "voice"
    EMAIL = "email"
    CHAT = "chat"
    SMS = "sms"
    SOCIAL = "social"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


@dataclass(frozen=True, slots=True)
class Envelope:
    """Typed view of a validated event; ``attributes`` stays the source's dict."""

    event_id: str
    event_type: EventType
    occurred_at: str
    tenant: str
    schema_version: int = SCHEMA_VERSION
    channel: Channel | None = None
    direction: Direction | None = None
    contact_id: str | None = None
    customer: Mapping[str, str] = field(default_factory=dict)
    agent_id: str | None = None
    queue: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> Envelope:
        """From a dict that :func:`schemas.validation.validate` accepted."""
        channel, direction = event.get("channel"), event.get("direction")
        return cls(
            event_id=event["event_id"],
            event_type=EventType(event["event_type"]),
            occurred_at=event["occurred_at"],
            tenant=event["tenant"],
            schema_version=event["schema_version"],
            channel=None if channel is None else Channel(channel),
            direction=None if direction is None else Direction(direction),
            contact_id=event.get("contact_id"),
            customer=event.get("customer", {}),
            agent_id=event.get("agent_id"),
            queue=event.get("queue"),
            attributes=event.get("attributes", {}),
        )

    def to_event(self) -> dict[str, Any]:
        """The JSON-ready dict, without the optional fields that are absent."""
        event: dict[str, Any] = {
            "event_id": self.event_id,
            "event_type": str(self.event_type),
            "schema_version": self.schema_version,
            "occurred_at": self.occurred_at,
            "tenant": self.tenant,
        }
        optional = {
            "channel": self.channel and str(self.channel),
            "direction": self.direction and str(self.direction),
            "contact_id": self.contact_id,
            "customer": dict(self.customer),
            "agent_id": self.agent_id,
            "queue": self.queue,
            "attributes": dict(self.attributes),
        }
        event.update((name, value) for name, value in optional.items() if value)
        return event
