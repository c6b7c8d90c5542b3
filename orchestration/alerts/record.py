"""The alert record as delivery reads it (the shape of docs/alerts.md and
schemas/json/alert.json), and what a receiver gets: the record plus the business keys."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from schemas.times import format_utc

# What delivery itself relies on; the rest of the record is passed on as it came.
_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "alert_id": str,
    "tenant": str,
    "customer_key": str,
    "customer_ids": list,
    "score": (int, float),
    "signals": list,
    "created_at": str,
}
BUSINESS_KEY_KINDS = ("customer_id", "account_id")


class InvalidAlert(ValueError):
    """A record of the alerts topic that is not an alert record."""


def parse_alert(value: bytes | None) -> dict[str, Any]:
    """The alert record of a Kafka value; InvalidAlert saying what is wrong."""
    if value is None:
        raise InvalidAlert("a tombstone (no value)")
    try:
        alert = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise InvalidAlert(f"not JSON ({exc})") from None
    if not isinstance(alert, dict):
        raise InvalidAlert(f"not a JSON object but {type(alert).__name__}")
    for name, kind in _REQUIRED.items():
        if not isinstance(alert.get(name), kind) or alert.get(name) == "":
            raise InvalidAlert(f"{name}: missing or not a {getattr(kind, '__name__', 'number')}")
    return alert


def with_business_keys(alert: Mapping[str, Any], raw_values: Mapping[str, str]) -> dict[str, Any]:
    """What a webhook or an e-mail carries: the alert and, under ``business_keys``, the raw
    customer_id and account_id values the source sent for its identifiers (``raw_values``: hashed
    identifier -> raw value, from the operators' business-keys topic; never landed)."""
    keys: dict[str, list[str]] = {kind: [] for kind in BUSINESS_KEY_KINDS}
    for identifier in alert.get("customer_ids", []):
        kind = identifier.split(":", 1)[0]
        if kind in keys and identifier in raw_values:
            keys[kind].append(raw_values[identifier])
    return {**alert, "business_keys": {kind: sorted(values) for kind, values in keys.items()}}


def parse_time(text: str) -> datetime | None:
    """An RFC 3339 time of the record as an aware datetime; None when unreadable."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def rfc3339(moment: datetime) -> str:
    """The project's one time format (schemas.times): UTC, milliseconds, ``Z``."""
    return format_utc(moment.timestamp())


def sample_alert(now: datetime) -> dict[str, Any]:
    """A made-up alert in the record's shape, for ``omnicx alerts test-webhook``."""
    at = rfc3339(now)
    return {
        "alert_id": "al-000000000000000000000000",
        "tenant": "sample-tenant",
        "customer_key": "customer_id:00000000000000000000000000000000",
        "customer_ids": ["customer_id:00000000000000000000000000000000"],
        "reason": "flagged",
        "score": 70,
        "previous_score": 40,
        "threshold": 50,
        "signals": [
            {
                "signal": "cancellation_intent",
                "weight": 40,
                "evidence": [{"contact_id": "ct-sample-2", "at": at}],
            },
            {
                "signal": "nps_detractor",
                "weight": 30,
                "evidence": [{"contact_id": "ct-sample-1", "at": at}],
            },
        ],
        "trigger_event_id": "ev-sample",
        "trigger_occurred_at": at,
        "created_at": at,
        "knob_set": "sample",
        "schema_version": 1,
        "sample": True,
    }
