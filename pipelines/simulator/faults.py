"""What a real feed does to the clean event stream: re-sent duplicates, out-of-order and late
delivery, and malformed messages.

Faults only add or move messages; they never remove or alter a valid event, so the ground truth
of the simulation is the truth of every faulty feed made from it. Each message gets a send key
(its event time, plus a delay for the displaced ones) and messages leave in send-key order;
as delays are bounded, this streams with a heap no larger than the messages of the longest
delay. A malformed message is a broken copy of a real event (with its own event id, so it
never collides with the real one) sent next to it.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from typing import Any, NamedTuple

import orjson

from pipelines.simulator.clock import SECOND
from pipelines.simulator.config import FaultRates
from pipelines.simulator.ids import RunIds

MALFORMED_KINDS = ("not_json", "missing_field", "wrong_type", "unknown_event_type", "bad_time")
_UNKNOWN_TYPES = ("contact.teleported", "contact.strated", "agent.sneezed")
_NOT_JSON = (b"\xff\xfeGARBAGE\x00\x01", b"HTTP/1.1 502 Bad Gateway", b"<event>contact</event>")
_BAD_TIMES = ("no_offset", "yesterday", "epoch_number", "impossible_date")


class Malformed(NamedTuple):
    kind: str  # one of MALFORMED_KINDS
    path: str  # where validation must find the problem ("$" for the whole message)
    detail: str


class Sent(NamedTuple):
    """One message in send order: its bytes, the event time of a valid one (ms), whether it is
    a re-sent duplicate, and what is wrong with a malformed one."""

    raw: bytes
    event_ms: int | None
    duplicate: bool
    malformed: Malformed | None


class FaultInjector:
    def __init__(self, rates: FaultRates, rng: random.Random, ids: RunIds) -> None:
        self.rates = rates
        self.rng = rng
        self.ids = ids
        self.broken = 0

    def run(self, clean: Iterator[tuple[int, bytes, dict[str, Any]]]) -> Iterator[Sent]:
        rates, rng = self.rates, self.rng
        late_ms = int(rates.max_late_seconds * SECOND)
        heap: list[tuple[int, int, Sent]] = []
        push, pop = heapq.heappush, heapq.heappop
        order = 0
        for t, raw, event in clean:
            # Every later message has a send key >= t: all keys up to t are final.
            while heap and heap[0][0] <= t:
                yield pop(heap)[2]
            key = t
            if rates.disorder and rng.random() < rates.disorder:
                if rng.random() < rates.late_share:
                    key += rng.randint(60 * SECOND, late_ms)
                else:
                    key += rng.randint(100, 30 * SECOND)
            order += 1
            push(heap, (key, order, Sent(raw, t, False, None)))
            if rates.duplicates and rng.random() < rates.duplicates:
                order += 1
                push(heap, (key + rng.randint(100, 20 * SECOND), order, Sent(raw, t, True, None)))
            if rates.malformed and rng.random() < rates.malformed:
                order += 1
                push(heap, (t, order, self._break(event, raw)))
        while heap:
            yield pop(heap)[2]

    def _break(self, event: dict[str, Any], raw: bytes) -> Sent:
        rng = self.rng
        self.broken += 1
        kind = rng.choice(MALFORMED_KINDS)
        if kind == "not_json":
            if rng.random() < 0.5:
                return Sent(raw[: len(raw) // 2], None, False, Malformed(kind, "$", "truncated"))
            junk = rng.choice(_NOT_JSON)
            return Sent(junk, None, False, Malformed(kind, "$", "garbage"))
        bad = dict(event)
        bad["event_id"] = self.ids.malformed(self.broken)
        if kind == "missing_field":
            path = rng.choice(_required(event["event_type"]))
            del bad[path]
            detail = f"without {path}"
        elif kind == "wrong_type":
            path, value = rng.choice(
                [("schema_version", "1"), ("tenant", 42), ("event_id", 12345), ("attributes", [])]
            )
            bad[path] = value
            detail = f"{path}={value!r}"
        elif kind == "unknown_event_type":
            path = "event_type"
            bad[path] = rng.choice(_UNKNOWN_TYPES)
            detail = bad[path]
        else:
            path = "occurred_at"
            detail = rng.choice(_BAD_TIMES)
            bad[path] = _bad_time(event["occurred_at"], detail)
        return Sent(orjson.dumps(bad), None, False, Malformed(kind, path, detail))


def _required(event_type: str) -> list[str]:
    """Fields events.md requires of every event of this type (whatever else it carries)."""
    required = ["event_id", "event_type", "schema_version", "occurred_at", "tenant"]
    family = event_type.split(".")[0]
    if family in ("contact", "message", "survey", "outbound"):
        required += ["channel", "contact_id"]
    elif family == "ivr":
        required.append("contact_id")
    return required


def _bad_time(good: str, how: str) -> str | int:
    if how == "no_offset":
        return good[:19]  # local time of an unknown place
    if how == "yesterday":
        return "yesterday"
    if how == "epoch_number":
        return 1767603600
    return good[:5] + "02-30" + good[10:]  # 30 February
