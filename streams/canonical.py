"""Canonical events: the first step after validation (dead letters: ``streams.dead_letters``).

A canonical event is the validated event with times, identifiers and text made safe and uniform:

- ``occurred_at`` in UTC milliseconds (``2026-01-05T09:00:00.000Z``) and ``ts``, the same instant
  in epoch seconds (float, rounded to the millisecond like ``occurred_at``);
- ``customer`` replaced by ``customer_ids``: the sorted keyed hashes of its usable identifiers
  (junk dropped), which both the contact record and the identity graph use;
- message ``text`` and survey ``comment`` replaced by ``attributes.cancellation_intent`` (kept
  beside the signal only when the operator opts in with ``keep_text``).

Everything else, including unknown attributes, is kept as it came.
"""

from __future__ import annotations

import re
from typing import Any

from schemas.identifiers import hashed_identifiers
from schemas.times import format_utc, parse_rfc3339
from streams.signals import has_cancellation_intent

_CANONICAL_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def canonicalise(event: dict[str, Any], pii_key: str, keep_text: bool = False) -> dict[str, Any]:
    """The canonical form of a schema-valid event (a new dict; ``event`` is not modified).

    Raises ValueError when ``occurred_at`` cannot be parsed: the caller dead-letters the event.
    """
    out = dict(event)
    occurred_at = event["occurred_at"]
    millis = round(parse_rfc3339(occurred_at) * 1000)
    out["ts"] = millis / 1000
    # Producers mostly send the canonical form already; formatting again is the costly part.
    if not _CANONICAL_TIME.fullmatch(occurred_at):
        out["occurred_at"] = format_utc(millis / 1000)
    customer = out.pop("customer", None)
    out["customer_ids"] = hashed_identifiers(customer, pii_key) if customer else []
    event_type = event["event_type"]
    if event_type.startswith("message."):
        _reduce_text(out, "text", keep_text)
    elif event_type == "survey.completed":
        _reduce_text(out, "comment", keep_text)
    return out


def _reduce_text(event: dict[str, Any], field: str, keep_text: bool) -> None:
    attributes = dict(event.get("attributes") or {})
    text = attributes.get(field)
    attributes["cancellation_intent"] = isinstance(text, str) and has_cancellation_intent(text)
    if not keep_text:
        attributes.pop(field, None)
    event["attributes"] = attributes
