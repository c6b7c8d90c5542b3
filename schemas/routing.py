"""How events are keyed on Kafka (part of the contract producers keep).

Every event of one contact must reach one partition, so that one worker folds the whole contact:
raw events are keyed by ``contact_id``; events without one by ``agent_id`` (agent states), else by
``event_id``. The stream re-keys a message whose key breaks this rule instead of folding it on
the wrong partition.
"""

from __future__ import annotations

from typing import Any


def routing_key(event: dict[str, Any]) -> str:
    return event.get("contact_id") or event.get("agent_id") or event["event_id"]
