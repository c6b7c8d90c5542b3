"""Build the events the simulated sources publish, in the envelope of events.md.

Events are plain dicts with the envelope fields in a fixed order (so their JSON bytes are
reproducible) and go into a heap by (event time, emission number): the engine only ever emits
at or after its current time, so everything earlier than the next step can be released in
event-time order while the simulation runs (``release``).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import Any

from pipelines.simulator.clock import format_ms, format_ms_paris
from pipelines.simulator.ids import RunIds
from pipelines.simulator.model import Agent, Contact

Event = dict[str, Any]


class Emitter:
    __slots__ = ("count", "heap", "ids")

    def __init__(self, ids: RunIds) -> None:
        self.heap: list[tuple[int, int, Event]] = []
        self.count = 0
        self.ids = ids

    def _push(self, t: int, event: Event) -> None:
        heapq.heappush(self.heap, (t, self.count, event))

    def _envelope(self, t: int, event_type: str, tenant: str, paris: bool = False) -> Event:
        self.count += 1
        return {
            "event_id": self.ids.event(self.count),
            "event_type": event_type,
            "schema_version": 1,
            "occurred_at": format_ms_paris(t) if paris else format_ms(t),
            "tenant": tenant,
        }

    def release(self, until: int) -> Iterator[tuple[int, Event]]:
        """Pop the events at or before ``until`` in event-time order."""
        heap = self.heap
        while heap and heap[0][0] <= until:
            t, _, event = heapq.heappop(heap)
            yield t, event

    # ---------------------------------------------------------------- contact events

    def contact(
        self,
        t: int,
        event_type: str,
        c: Contact,
        attributes: dict[str, Any] | None = None,
        agent_id: str | None = None,
        queue: str | None = None,
    ) -> None:
        event = self._envelope(t, event_type, c.tenant.name, c.paris)
        event["channel"] = c.channel
        event["contact_id"] = c.id
        if agent_id is not None:
            event["agent_id"] = agent_id
        if queue is not None:
            event["queue"] = queue
        if attributes is not None:
            event["attributes"] = attributes
        self._push(t, event)

    def started(self, t: int, c: Contact, attributes: dict[str, Any]) -> None:
        event = self._envelope(t, "contact.started", c.tenant.name, c.paris)
        event["channel"] = c.channel
        event["direction"] = c.direction
        event["contact_id"] = c.id
        event["customer"] = c.customer_obj
        event["attributes"] = attributes
        self._push(t, event)

    def message(self, t: int, c: Contact, received: bool, author: str, text: str) -> None:
        self.count += 1
        attributes = {"message_id": self.ids.message(self.count), "author": author, "text": text}
        self.contact(t, "message.received" if received else "message.sent", c, attributes)

    # ---------------------------------------------------------------- customer events

    def identity_linked(self, t: int, c: Contact, customer: dict[str, str]) -> None:
        event = self._envelope(t, "identity.linked", c.tenant.name, c.paris)
        event["channel"] = c.channel
        event["contact_id"] = c.id
        event["customer"] = customer
        self._push(t, event)

    def opted_out(self, t: int, c: Contact, scope: str) -> None:
        event = self._envelope(t, "customer.opted_out", c.tenant.name, c.paris)
        event["channel"] = c.channel
        event["contact_id"] = c.id
        event["customer"] = {"customer_id": c.customer.customer_id}
        event["attributes"] = {"scope": scope}
        self._push(t, event)

    # ---------------------------------------------------------------- agent desktop

    def agent_state(self, t: int, agent: Agent, state: str) -> None:
        event = self._envelope(t, "agent.state_changed", agent.tenant.name)
        event["agent_id"] = agent.id
        event["attributes"] = {"state": state}
        self._push(t, event)
