"""Hand-written canonical events for the stream-logic tests (no broker, pinned times)."""

from __future__ import annotations

import json
from collections.abc import MutableMapping

import pytest

from schemas.times import format_utc, parse_rfc3339

T0 = parse_rfc3339("2026-01-05T09:00:00Z")


def canonical_event(
    event_type: str,
    at: float,
    contact_id: str | None = "c1",
    *,
    event_id: str | None = None,
    tenant: str = "acme",
    channel: str | None = "voice",
    customer_ids: list[str] | None = None,
    attributes: dict | None = None,
    **fields,
) -> dict:
    """A canonical event ``at`` seconds after T0 (what ``canonicalise`` would produce)."""
    ts = round((T0 + at) * 1000) / 1000
    event = {
        "event_id": event_id or f"{contact_id}-{event_type}-{at}",
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": format_utc(ts),
        "ts": ts,
        "tenant": tenant,
        "channel": channel,
        "customer_ids": customer_ids or [],
        "attributes": attributes or {},
        **fields,
    }
    if contact_id is not None:
        event["contact_id"] = contact_id
    return event


@pytest.fixture
def ev():
    return canonical_event


class JsonStore(MutableMapping):
    """A store that keeps values serialised, as a Faust table does: state that is not plain
    JSON, or is mutated without being written back, shows up as a test failure."""

    def __init__(self):
        self.data = {}

    def __getitem__(self, key):
        return json.loads(self.data[key])

    def __setitem__(self, key, value):
        self.data[key] = json.dumps(value)

    def __delitem__(self, key):
        del self.data[key]

    def __iter__(self):
        return iter(self.data)

    def __len__(self):
        return len(self.data)


@pytest.fixture
def json_store():
    return JsonStore
