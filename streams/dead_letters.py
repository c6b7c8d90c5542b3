"""Dead-letter records: what is kept of a message that cannot become a canonical event.

Each rejected message gives two records (docs/streams.md, Dead letters):

- the **analyst** record (``dead-letters`` topic, landed in the lake): the errors, the source
  coordinates, size and SHA-256 of the bytes, the event type and ids when they can be read, and
  a preview with every identifier-like value and all free text masked (:func:`redact_preview`);
- the **operator** record (``dead-letters-raw`` topic, never landed): the same plus the exact
  bytes in base64 for replay, when they fit in a Kafka message.

A rejected message has a stable ``dead_letter_id``, derived from where it was first rejected; a
replay re-publishes it with that id in a header (``DEAD_LETTER_ID_HEADER``), so when it fails
again its new records carry the same id and the warehouse counts it once.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from schemas.validation import Problem

DEAD_LETTER_ID_HEADER = "omnicx-dead-letter-id"
PREVIEW_CHARS = 2000
MAX_ERRORS = 20
MAX_ERROR_CHARS = 300
_MAX_ID_CHARS = 128

REDACTED = "<redacted>"

# Fields whose string values are codes or ids, never identifiers of a person or free text: the
# envelope's ids and the attributes with enumerated or operational values (schemas/json/).
SAFE_FIELDS = frozenset(
    {
        "event_id", "event_type", "occurred_at", "tenant", "channel", "direction",
        "contact_id", "agent_id", "queue", "to_agent_id", "to_queue", "message_id",
        "ticket_id", "author", "cause", "dialer", "disposition", "ended_by", "kind", "mode",
        "result", "state", "entry_point", "language", "scope", "skill", "campaign", "reason",
    }
)  # fmt: skip
# What an analyst may see beside a dead letter: ids, not identifiers of a person, and the event
# time, which dates the dead letter by business day (the dead_letter_share check).
ID_FIELDS = ("event_type", "event_id", "contact_id", "tenant", "occurred_at")

# A JSON string literal, also one cut short by the end of the preview or of a broken document.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*(?:"|\\?$)', re.DOTALL)
_KEY_AFTER = re.compile(r"\s*:")
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")
# Outside string literals (a number where a phone was expected, garbage around broken JSON).
_DIGIT_RUN = re.compile(r"\d{6,}")
_E_MAIL_OR_HANDLE = re.compile(r"\S*@\S+")
_JSON_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")


# Why a message became a dead letter: a fixed set of label values, never the error text (which
# is unbounded and may quote the message).
DEAD_LETTER_REASONS = (
    "tombstone",  # a record without a value
    "too_large",  # over stream.max_message_bytes, or a canonical event over a Kafka message
    "not_json",
    "too_deep",  # nested deeper than stream.max_nesting_depth
    "unknown_type",  # an event_type the contract does not have
    "schema",  # any other break of the contract: missing field, wrong type, bad time ...
    "far_future",  # dated more than stream.max_future_seconds ahead of its arrival
)


def dead_letter_reason(problems: Iterable[str | Problem]) -> str:
    """The reason label of a dead letter (the ``omnicx_stream_dead_letters`` metric) from its
    problems: the stream's own reasons are plain strings (``streams.ingest``), the contract's
    are ``Problem``s (``schemas.validation``; tests/streams/test_streams_metrics.py pins the
    phrases matched here)."""
    for problem in problems:
        if isinstance(problem, str):
            if "stream.max_future_seconds" in problem:
                return "far_future"
            if "a Kafka message may hold" in problem:
                return "too_large"
            continue
        if problem.got == "a tombstone":
            return "tombstone"
        if problem.message == "message too large":
            return "too_large"
        if problem.message.startswith("not JSON"):
            return "not_json"
        if problem.message == "message nested too deep":
            return "too_deep"
        if problem.path == "event_type" and problem.message.startswith("unknown event_type"):
            return "unknown_type"
    return "schema"


@dataclass(frozen=True, slots=True)
class DeadLetterRecords:
    analyst: dict[str, Any]
    operator: dict[str, Any]


def dead_letter_id(topic: str, partition: int, offset: int) -> str:
    """The id of a message rejected at these coordinates (32 hex digits)."""
    return hashlib.sha256(f"{topic}/{partition}/{offset}".encode()).hexdigest()[:32]


def dead_letter_records(
    raw: bytes | None,
    problems: str | Iterable[str | Problem],
    topic: str,
    partition: int,
    offset: int,
    *,
    replay_of: str | None = None,
    max_stored_bytes: int,
) -> DeadLetterRecords:
    """Both records of one rejected message. ``replay_of`` is the id a replay carried; the raw
    bytes are kept for the operator only up to ``max_stored_bytes`` (larger ones stay in the raw
    topic at ``topic/partition/offset`` for its retention)."""
    listed = [problems] if isinstance(problems, str) else list(problems)
    size = 0 if raw is None else len(raw)
    common = {
        "dead_letter_id": replay_of or dead_letter_id(topic, partition, offset),
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "raw_size": size,
        "raw_sha256": None if raw is None else hashlib.sha256(raw).hexdigest(),
        "replayed": replay_of is not None,
    }
    analyst = {
        **common,
        "errors": _bounded(redact_problem(p) for p in listed),
        **readable_ids(raw, max_stored_bytes),
        "redacted_preview": None if raw is None else redact_preview(raw),
    }
    stored = raw is not None and size <= max_stored_bytes
    operator = {
        **common,
        "errors": _bounded(str(p) for p in listed),
        "tombstone": raw is None,
        "raw_base64": base64.b64encode(raw).decode("ascii") if stored else None,
    }
    return DeadLetterRecords(analyst, operator)


def _bounded(errors: Iterable[str]) -> list[str]:
    """At most MAX_ERRORS errors of MAX_ERROR_CHARS each: a message with a hundred thousand
    unknown fields must still give a dead letter that fits in a Kafka message."""
    out, more = [], 0
    for error in errors:
        if len(out) < MAX_ERRORS:
            out.append(error if len(error) <= MAX_ERROR_CHARS else error[:MAX_ERROR_CHARS] + "…")
        else:
            more += 1
    if more:
        out.append(f"... and {more} more")
    return out


def readable_ids(raw: bytes | None, max_bytes: int) -> dict[str, str | None]:
    """``event_type``, ``event_id``, ``contact_id``, ``tenant`` and ``occurred_at`` (as sent)
    when the message is a JSON object that has them as short strings (None otherwise)."""
    ids: dict[str, str | None] = dict.fromkeys(ID_FIELDS)
    if raw is None or len(raw) > max_bytes:
        return ids
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return ids
    if isinstance(event, dict):
        for name in ID_FIELDS:
            value = event.get(name)
            if isinstance(value, str) and len(value) <= _MAX_ID_CHARS and "@" not in value:
                ids[name] = value
    return ids


def redact_problem(problem: str | Problem) -> str:
    """A validation problem as an analyst may read it: the value it got is masked unless the
    field holds codes or ids (a phone that failed its pattern must not be echoed)."""
    if isinstance(problem, str):
        return problem  # the stream's own reasons: sizes, depth, times; no message content
    path = _mask_outside_strings(problem.path)
    field = problem.path.rsplit(".", 1)[-1]
    got = problem.got
    if got.startswith('"') and field not in SAFE_FIELDS:
        got = f"a string ({REDACTED})"
    elif _JSON_NUMBER.fullmatch(got) and _DIGIT_RUN.search(got):
        got = f"a number ({REDACTED})"
    return f"{path}: expected {problem.expected}, got {got}"


def redact_preview(raw: bytes, chars: int = PREVIEW_CHARS) -> str:
    """The start of a message as UTF-8 text (invalid bytes replaced) with personal data masked.

    Works on the text, not on a parse, so that broken JSON (most dead letters) is masked too:
    every string value is masked unless it belongs to a field of ``SAFE_FIELDS`` (and even then
    when it holds an ``@``); keys are kept when they are plain names; outside strings, runs of 6+
    digits and anything around an ``@`` are masked.
    """
    text = raw[: chars * 4].decode("utf-8", "replace")[:chars]
    parts: list[str] = []
    field: str | None = None
    end = 0
    for literal in _STRING.finditer(text):
        parts.append(_mask_outside_strings(text[end : literal.start()]))
        end = literal.end()
        content = literal.group()[1:].removesuffix('"')
        if _KEY_AFTER.match(text, end):
            field = content if _PLAIN_NAME.fullmatch(content) else None
            parts.append(f'"{content}"' if field is not None else f'"{REDACTED}"')
        elif field in SAFE_FIELDS and "@" not in content:
            parts.append(literal.group())
        else:
            parts.append(f'"{REDACTED}"')
    parts.append(_mask_outside_strings(text[end:]))
    return "".join(parts)


def _mask_outside_strings(text: str) -> str:
    return _DIGIT_RUN.sub(REDACTED, _E_MAIL_OR_HANDLE.sub(REDACTED, text))


def import_topic(importer: str, file_name: str) -> str:
    """The ``topic`` of an import rejection's dead letter: it names the importer and the file
    (its name only: a directory may hold a person's name), with the line as its ``offset``."""
    return f"import:{importer}:{file_name}"


def import_rejection_records(
    *,
    importer: str,
    file_name: str,
    line: int,
    reason: str,
    tenant: str,
    occurred_at: str | None,
    raw: bytes | None,
    max_stored_bytes: int,
) -> DeadLetterRecords:
    """Both records of a source record an importer could not convert (``omnicx import``).

    The id comes from the importer, file name and line, so importing the same file again gives
    the same dead letters (counted once). The analysts' record carries the reason (which the
    importers write without personal data), the tenant and the record's time when it could be
    read, and no preview: a line of a CSV or queue_log is not JSON, so the masking of
    :func:`redact_preview` cannot tell its names and numbers apart. The operators' record keeps
    the line's bytes (fix the source and import it again: a replay to raw-events would only
    reject it as not JSON)."""
    topic = import_topic(importer, file_name)
    common = {
        "dead_letter_id": dead_letter_id(topic, 0, line),
        "topic": topic,
        "partition": 0,
        "offset": line,
        "raw_size": 0 if raw is None else len(raw),
        "raw_sha256": None if raw is None else hashlib.sha256(raw).hexdigest(),
        "replayed": False,
    }
    errors = _bounded([reason])
    analyst = {
        **common,
        "errors": errors,
        **dict.fromkeys(ID_FIELDS),
        "tenant": tenant,
        "occurred_at": occurred_at,
        "redacted_preview": None,
    }
    stored = raw is not None and len(raw) <= max_stored_bytes
    operator = {
        **common,
        "errors": errors,
        "tombstone": False,
        "raw_base64": base64.b64encode(raw).decode("ascii") if stored else None,
    }
    return DeadLetterRecords(analyst, operator)
