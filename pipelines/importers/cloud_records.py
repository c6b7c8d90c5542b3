"""What the importers of cloud platforms' JSON records share: reading typed fields of a record
(a wrong field is a BadRecord, which becomes the record's Rejection) and building the events of
one contact with deterministic ids."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pipelines.importers.framework import Rejection, SourceRecord, envelope
from pipelines.importers.json_values import unreadable
from schemas.times import format_utc, parse_rfc3339


class BadRecord(ValueError):
    """A record that cannot be converted: ``reason`` is the same for every record rejected for
    the same cause (the import summary counts by it), ``detail`` names the field or value (the
    platform's own vocabulary, never personal data)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail

    def rejection(self, record: SourceRecord, time_field: str) -> Rejection:
        """The record's Rejection, dated by its ``time_field`` when that can be read (the dead
        letter then counts on its business day); the record itself reaches only the operators'
        dead letter."""
        if unreadable(record):
            source, occurred_at = record.data.get("source"), None
        else:
            source, occurred_at = json.dumps(record.data), _readable_time(record.data, time_field)
        return Rejection(
            record.file, record.line, self.reason, self.detail, occurred_at, source=source
        )


def _readable_time(data: Mapping[str, Any], name: str) -> str | None:
    try:
        at_ms = field_time(data, name)
    except BadRecord:
        return None
    return None if at_ms is None else format_utc(at_ms / 1000)


def readable(record: SourceRecord) -> Mapping[str, Any]:
    """The record's data; BadRecord when the file held no JSON object there."""
    reason = unreadable(record)
    if reason is not None:
        raise BadRecord(reason, str(record.data.get("detail") or ""))
    return record.data


def field_object(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """An object field; an absent or null one is empty."""
    value = data.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise BadRecord("a field of the wrong type", f"{name} is not an object")
    return value


def field_text(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadRecord("a field of the wrong type", f"{name} is not a string")
    return value


def required_text(data: Mapping[str, Any], name: str) -> str:
    value = field_text(data, name)
    if value is None:
        raise BadRecord("a required field is missing", name)
    return value


def field_time(data: Mapping[str, Any], name: str) -> int | None:
    """Epoch milliseconds of an ISO 8601 timestamp field."""
    text = field_text(data, name)
    if text is None:
        return None
    try:
        return round(parse_rfc3339(text) * 1000)
    except ValueError:
        raise BadRecord("a time without a UTC offset or unreadable", name) from None


def required_time(data: Mapping[str, Any], name: str) -> int:
    value = field_time(data, name)
    if value is None:
        raise BadRecord("a required field is missing", name)
    return value


def field_number(data: Mapping[str, Any], name: str) -> float | None:
    """A non-negative number field."""
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise BadRecord("a field of the wrong type", f"{name} is not a non-negative number")
    return value


class ContactEvents:
    """The events of one contact being built, each with the id ``framework.event_id`` makes of
    the importer, tenant, source identity given (a leg, a session ...), type and ordinal."""

    def __init__(self, importer: str, tenant: str, contact_id: str, channel: str) -> None:
        self.importer = importer
        self.tenant = tenant
        self.contact_id = contact_id
        self.channel = channel
        self.events: list[dict[str, Any]] = []

    def add(
        self,
        event_type: str,
        at_ms: int,
        identity: str,
        ordinal: int = 0,
        attributes: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> None:
        """Add an event; None fields and None attributes are left out."""
        kept = {name: value for name, value in (attributes or {}).items() if value is not None}
        event = envelope(
            self.importer,
            self.tenant,
            identity,
            event_type,
            format_utc(at_ms / 1000),
            ordinal,
            channel=self.channel,
            contact_id=self.contact_id,
            attributes=kept or None,
            **fields,
        )
        self.events.append(event)

    def in_time_order(self) -> list[dict[str, Any]]:
        """The events by event time (those of one instant in the order they were added: the
        lifecycle order)."""
        return sorted(self.events, key=lambda event: event["occurred_at"])
