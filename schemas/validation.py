"""Check raw event bytes against the event contract (``schemas/json/``, docs/events.md).

Two paths, because this runs on every event of the stream:

* the accept path decodes with orjson and runs a fastjsonschema validator compiled once per
  event type (lazily, on first use, then cached), which stops at the first error;
* only when that fails does the slow path run jsonschema over the same schema documents to
  collect every problem with a message a producer can act on.

Both paths share one definition of an RFC 3339 timestamp. Integers follow JSON Schema: ``7.0`` is
the integer 7 (JSON does not tell them apart), ``true`` is not an integer.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import fastjsonschema
import orjson

from schemas.times import parse_rfc3339

if TYPE_CHECKING:
    from jsonschema import ValidationError

ENVELOPE = "envelope"

# RFC 3339 section 5.6 date-time, which requires the offset; parse_rfc3339 then rejects
# impossible dates (2026-02-30) and offsets of 24 h or more.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})", re.ASCII
)
_SHOWN_STRING_CHARS = 60


@dataclass(frozen=True, slots=True)
class Problem:
    """One way an event breaks the contract; ``path`` is dotted (``attributes.nps``), ``$`` is
    the whole message."""

    path: str
    expected: str
    got: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: expected {self.expected}, got {self.got}"


@dataclass(frozen=True, slots=True)
class Validated:
    """The parsed event when it keeps the contract (``problems`` empty), else every problem."""

    event: dict[str, Any] | None
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return self.event is not None


def validate(
    raw: bytes | bytearray | memoryview | str | None,
    *,
    max_bytes: int | None = None,
    max_depth: int | None = None,
) -> Validated:
    """Decode and check one message. Never raises: a bad message comes back with its problems.

    ``None`` is a Kafka tombstone (a record without a value). ``max_bytes`` and ``max_depth``
    bound what is accepted at all (``settings.stream``): a larger message is not even decoded,
    and one nested deeper could be parsed but not written again (orjson writes 254 levels).
    """
    if raw is None:
        return Validated(
            None,
            [Problem("$", "a JSON document", "a tombstone", "a Kafka tombstone (null value)")],
        )
    if max_bytes is not None and len(raw) > max_bytes:
        limit = f"at most {max_bytes} bytes (stream.max_message_bytes)"
        return Validated(None, [Problem("$", limit, f"{len(raw)} bytes", "message too large")])
    try:
        event = orjson.loads(raw)
    except (orjson.JSONDecodeError, TypeError) as exc:
        # orjson's message says why and where (``unexpected character: line 1 column 5``); it
        # never quotes the document.
        return Validated(
            None, [Problem("$", "a JSON document", f"invalid JSON ({exc})", f"not JSON: {exc}")]
        )
    if (
        max_depth is not None
        and _may_nest_deeper(raw, max_depth)
        and nested_deeper_than(event, max_depth)
    ):
        limit = f"at most {max_depth} levels of nesting (stream.max_nesting_depth)"
        return Validated(None, [Problem("$", limit, "deeper nesting", "message nested too deep")])
    return validate_event(event)


def _may_nest_deeper(raw: bytes | bytearray | memoryview | str, limit: int) -> bool:
    """False when the document has too few brackets to nest deeper than ``limit``: a count in C
    that spares almost every event the walk of :func:`nested_deeper_than`."""
    text = raw.tobytes() if isinstance(raw, memoryview) else raw
    opening = ("{", "[") if isinstance(text, str) else (b"{", b"[")
    return text.count(opening[0]) + text.count(opening[1]) > limit


def nested_deeper_than(value: object, limit: int) -> bool:
    """True when objects and arrays nest more than ``limit`` levels (the document itself is
    level 1, ``attributes`` level 2). Walks containers only, and stops at the first too deep."""
    if not isinstance(value, dict | list):
        return False
    stack = [(value, 1)]
    while stack:
        container, depth = stack.pop()
        if depth > limit:
            return True
        children = container.values() if isinstance(container, dict) else container
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def validate_event(event: object) -> Validated:
    """Check an already decoded event (e.g. one a producer is about to send)."""
    fast_error = None
    if isinstance(event, dict):
        event_type = event.get("event_type")
        accept = _fast_validator(event_type) if isinstance(event_type, str) else None
        if accept is not None:
            try:
                accept(event)
                return Validated(event, [])
            except fastjsonschema.JsonSchemaValueException as exc:
                fast_error = exc
    problems = find_problems(event)
    if not problems and fast_error is not None:
        # The two validators disagree: report what the fast one saw rather than accept.
        path = fast_error.name.removeprefix("data").lstrip(".") or "$"
        problems = [
            Problem(
                path, fast_error.rule or "a valid value", "an invalid value", fast_error.message
            )
        ]
    return Validated(None, problems)


def is_rfc3339(value: object) -> bool:
    """True for an RFC 3339 timestamp with offset that names a real instant (non-strings pass:
    the ``type`` keyword judges those)."""
    if not isinstance(value, str):
        return True
    if _RFC3339.fullmatch(value) is None:
        return False
    try:
        parse_rfc3339(value)
    except ValueError:
        return False
    return True


_EVENT_SCHEMA_IDS = "https://schemas.omnicx.dev/events/"


@cache
def _shipped_documents() -> Mapping[str, dict[str, Any]]:
    folder = resources.files("schemas").joinpath("json")
    documents = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".json"):
            documents[entry.name.removesuffix(".json")] = json.loads(entry.read_text())
    return documents


@cache
def schema_documents() -> Mapping[str, dict[str, Any]]:
    """The shipped event schema documents by name: ``envelope`` and one per event type (the
    folder also holds records the pipeline writes, such as ``alert``, which are no events)."""
    return {
        name: document
        for name, document in _shipped_documents().items()
        if document["$id"].startswith(_EVENT_SCHEMA_IDS)
    }


def record_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of a record the pipeline writes (``alert``: docs/alerts.md)."""
    return _shipped_documents()[name]


def record_problems(name: str, record: object) -> list[str]:
    """Every way ``record`` breaks the schema ``name`` (``path: message``); empty when it keeps
    it. Slow and thorough (jsonschema): for tests and producers' checks, not per event."""
    from jsonschema import Draft202012Validator, FormatChecker

    format_checker = FormatChecker(formats=())
    format_checker.checks("date-time")(is_rfc3339)
    validator = Draft202012Validator(record_schema(name), format_checker=format_checker)
    return [
        f"{_dotted([str(part) for part in error.absolute_path])}: {error.message}"
        for error in validator.iter_errors(record)
    ]


def event_type_names() -> list[str]:
    """The event types of the contract, in the order the envelope lists them."""
    return list(_envelope_properties()["event_type"]["enum"])


# ---------------------------------------------------------------- accept path


_compiled: dict[str, Callable[[dict[str, Any]], Any]] = {}


def _fast_validator(event_type: str) -> Callable[[dict[str, Any]], Any] | None:
    accept = _compiled.get(event_type)
    if accept is None and event_type != ENVELOPE and event_type in schema_documents():
        by_id = {doc["$id"]: doc for doc in schema_documents().values()}
        accept = fastjsonschema.compile(
            schema_documents()[event_type],
            handlers={"https": by_id.__getitem__},  # never fetch: every $ref is a shipped file
            formats={"date-time": is_rfc3339},
            use_default=False,  # validation must not change the event
        )
        _compiled[event_type] = accept
    return accept


# ---------------------------------------------------------------- problem path


@cache
def _full_validator(name: str) -> Any:
    # jsonschema is imported here, on the first bad event, so that importing the contract (every
    # module that reads settings does) stays cheap.
    from jsonschema import Draft202012Validator, FormatChecker
    from referencing import Registry, Resource

    documents = schema_documents()
    registry = Registry().with_resources(
        (doc["$id"], Resource.from_contents(doc)) for doc in documents.values()
    )
    format_checker = FormatChecker(formats=())
    format_checker.checks("date-time")(is_rfc3339)
    return Draft202012Validator(documents[name], registry=registry, format_checker=format_checker)


@cache
def _envelope_properties() -> dict[str, Any]:
    return schema_documents()[ENVELOPE]["properties"]


def find_problems(event: object) -> list[Problem]:
    """Every problem of a decoded event, by jsonschema: thorough and slow, so :func:`validate`
    only calls it for an event the compiled validator rejected."""
    if not isinstance(event, dict):
        return [Problem("$", "a JSON object", _show(event), "an event must be a JSON object")]
    event_type = event.get("event_type")
    known = isinstance(event_type, str) and event_type in event_type_names()
    validator = _full_validator(event_type if known else ENVELOPE)
    seen: dict[tuple[str, str, str], Problem] = {}
    for error in validator.iter_errors(event):
        for problem in _explain(error):
            seen.setdefault((problem.path, problem.expected, problem.got), problem)
    return sorted(seen.values(), key=lambda problem: problem.path)


_VALUE_KEYWORDS = frozenset(
    {"type", "enum", "const", "minimum", "maximum", "minLength", "maxLength", "format"}
)


def _explain(error: ValidationError) -> Iterator[Problem]:
    """Problems for one jsonschema error, phrased for the people who write producers."""
    keyword, schema, instance = error.validator, error.schema, error.instance
    parts = [str(part) for part in error.absolute_path]
    path = _dotted(parts)
    if keyword == "required":
        yield from _missing_fields(parts, schema, instance, error.validator_value)
    elif keyword == "additionalProperties":
        yield from _unknown_fields(parts, schema, instance)
    elif keyword == "minProperties":
        declared = _declared(parts[:-1], parts[-1], {}) if parts else {}
        names = ", ".join(declared.get("properties", {})) or "the known fields"
        expected = f"at least {error.validator_value} of {names}"
        got = f"{len(instance)}" + (f" ({', '.join(instance)})" if instance else "")
        yield Problem(path, expected, got, f"{path} needs {expected}")
    elif keyword == "anyOf" and all(set(option) == {"required"} for option in schema["anyOf"]):
        names = ", ".join(name for option in schema["anyOf"] for name in option["required"])
        expected = f"at least one of {names}"
        yield Problem(path, expected, "none", f"{path} needs {expected}")
    elif keyword == "enum" and parts == ["event_type"]:
        close = difflib.get_close_matches(str(instance), event_type_names(), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        message = f"unknown event_type {instance!r} (the types are in docs/events.md){hint}"
        yield Problem(path, _describe(schema), _show(instance), message)
    elif keyword in _VALUE_KEYWORDS:
        expected = _describe(schema)
        message = f"{path} must be {expected}"
        if keyword == "format":
            message += _why_not_a_time(instance)
        yield Problem(path, expected, _show(instance), message)
    else:
        yield Problem(path, f"to satisfy {keyword}", _show(instance), error.message)


def _missing_fields(
    parts: list[str], schema: Mapping[str, Any], instance: Mapping[str, Any], names: list[str]
) -> Iterator[Problem]:
    title = schema.get("title", "these")
    scope = "every event" if title == "event envelope" else f"{title} events"
    for name in names:
        if name not in instance:
            field = _dotted([*parts, name])
            expected = _describe(_declared(parts, name, schema))
            yield Problem(field, expected, "nothing", f"{field} is required for {scope}")


def _unknown_fields(
    parts: list[str], schema: Mapping[str, Any], instance: Mapping[str, Any]
) -> Iterator[Problem]:
    allowed = list(schema.get("properties", {}))
    for name in instance:
        if name in allowed:
            continue
        field = _dotted([*parts, name])
        if parts:
            expected = "one of " + ", ".join(allowed)
            message = f"{field} is not a known field of {_dotted(parts)}"
        else:  # the envelope: listing its twelve fields would not help, the rule does
            expected = "an envelope field"
            message = f"unknown envelope field {name!r}: source-specific fields go in attributes"
        yield Problem(field, expected, "unknown field", message)


def _why_not_a_time(value: object) -> str:
    """Why a string that is shaped like a timestamp still is not one (``2026-02-30``)."""
    if isinstance(value, str) and _RFC3339.fullmatch(value):
        try:
            parse_rfc3339(value)
        except ValueError as exc:
            return f" ({exc})"
    return ""


def _declared(parts: list[str], name: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    """The schema a field is declared with: the envelope's for top-level fields, else the one
    in the schema that reported the error."""
    if not parts and name in _envelope_properties():
        return _envelope_properties()[name]
    return schema.get("properties", {}).get(name, {})


def _describe(schema: Mapping[str, Any]) -> str:
    """A short phrase for what a schema accepts: ``integer 0..10``, ``one of warm, cold``."""
    if "const" in schema:
        return _show(schema["const"])
    if "enum" in schema:
        values = schema["enum"]
        if len(values) > 8:  # the event types: too many to list in a one-line message
            return (
                f"a known {schema.get('title', 'value')} ({len(values)} listed in docs/events.md)"
            )
        return "one of " + ", ".join(str(value) for value in values)
    if schema.get("format") == "date-time":
        return "RFC 3339 date-time with offset (2026-01-05T09:00:00Z)"
    kind = schema.get("type")
    if kind == "integer":
        low, high = schema.get("minimum"), schema.get("maximum")
        if low is not None and high is not None:
            return f"integer {low}..{high}"
        if low is not None:
            return f"integer >= {low}"
        return "integer"
    if kind == "string":
        low, high = schema.get("minLength", 0), schema.get("maxLength")
        if high is not None:
            return f"string of {low}..{high} characters"
        return "non-empty string" if low == 1 else "string"
    if kind == "object" and schema.get("additionalProperties") is False:
        return "object with keys among " + ", ".join(schema.get("properties", {}))
    return kind or "a value"


def _show(value: object) -> str:
    """A value as it appears in JSON, cut short: ``11``, ``"eleven"``, ``null``, ``object``."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str) and len(value) > _SHOWN_STRING_CHARS:
        return (
            json.dumps(value[:_SHOWN_STRING_CHARS], ensure_ascii=False) + f"… ({len(value)} chars)"
        )
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):  # validate_event was given a Python object, not JSON
        return f"{type(value).__name__} {value!r:.{_SHOWN_STRING_CHARS}}"


def _dotted(parts: list[str]) -> str:
    return ".".join(parts) or "$"
