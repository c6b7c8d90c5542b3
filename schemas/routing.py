"""How events are keyed on Kafka (part of the contract producers keep).

Every event of one contact must reach one partition, so that one worker folds the whole contact:
raw events are keyed by ``contact_id``; events without one by ``agent_id`` (agent states), else by
``event_id``. The stream re-keys a message whose key breaks this rule instead of folding it on
the wrong partition.
"""

from __future__ import annotations

from typing import Any

ROUTING_FIELDS = ("contact_id", "agent_id", "event_id")


def routing_key(event: dict[str, Any]) -> str | None:
    """The first of ``ROUTING_FIELDS`` that is a non-empty string (always one for a valid event,
    whose ``event_id`` is required); None for a message that has none."""
    for name in ROUTING_FIELDS:
        value = event.get(name)
        if isinstance(value, str) and value:
            return value
    return None
