"""Good and bad events for every rule of the contract, with the exact problem path expected."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from schemas import validation
from schemas.validation import Problem, find_problems, validate, validate_event
from tests.schemas.events import (
    ATTRIBUTE_ENUMS,
    CHANNELS,
    ENVELOPE_REQUIRED,
    EVENT_TYPES,
    REQUIRED_BY_TYPE,
    SCORES,
    minimal_event,
)


def check(event: Any) -> list[Problem]:
    """The problems of an event sent as JSON bytes (the event comes back exactly when none)."""
    result = validate(orjson.dumps(event))
    assert (result.event is None) == bool(result.problems)
    return result.problems


def paths(event: Any) -> list[str]:
    return [problem.path for problem in check(event)]


def with_fields(event_type: str, /, **fields: Any) -> dict[str, Any]:
    return {**minimal_event(event_type), **fields}


def with_attributes(event_type: str, **attributes: Any) -> dict[str, Any]:
    event = minimal_event(event_type)
    event["attributes"] = {**event.get("attributes", {}), **attributes}
    return event


def without(event_type: str, name: str) -> dict[str, Any]:
    event = minimal_event(event_type)
    del event[name]
    return event


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_the_smallest_event_of_each_type_is_valid_and_returned_as_sent(event_type: str) -> None:
    event = minimal_event(event_type)
    result = validate(orjson.dumps(event))
    assert result.problems == []
    assert result.ok
    assert result.event == event


def test_a_problem_prints_as_one_line_with_path_expected_and_got() -> None:
    [problem] = check(with_attributes("survey.completed", nps=11))
    assert str(problem) == "attributes.nps: expected integer 0..10, got 11"
    assert problem == Problem("attributes.nps", "integer 0..10", "11", problem.message)
    assert "attributes.nps" in problem.message


# ---------------------------------------------------------------- not an event at all


@pytest.mark.parametrize("raw", [b"", b"{", b"not json", b"\xff\xfe{}", b'{"a": NaN}', b"[1,]"])
def test_bytes_that_are_not_json_give_one_problem_at_the_root(raw: bytes) -> None:
    result = validate(raw)
    assert result.event is None
    [problem] = result.problems
    assert problem.path == "$"
    # The parser's own reason and position, not just "invalid JSON" (issue 10, 9b).
    assert problem.got.startswith("invalid JSON (") and "line 1 column" in problem.got
    assert problem.message.startswith("not JSON:")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "zero-length, empty document"),
        (b"\xff\xfe{}", "not valid UTF-8"),
        (b'{"a": NaN}', "expected a JSON value: line 1 column 7 (char 6)"),
        (b'{"a": 1e400}', "number is infinity when parsed as double: line 1 column 7"),
        (b"[" * 1100 + b"]" * 1100, "depth limit exceeded: line 1 column 1026"),
    ],
)
def test_invalid_json_says_what_the_parser_found(raw: bytes, reason: str) -> None:
    [problem] = validate(raw).problems
    assert reason in str(problem)


def test_a_tombstone_is_a_problem_not_an_exception() -> None:
    [problem] = validate(None).problems
    assert str(problem) == "$: expected a JSON document, got a tombstone"


def test_a_message_over_the_size_bound_is_refused_before_it_is_decoded() -> None:
    raw = orjson.dumps(minimal_event("contact.abandoned"))
    assert validate(raw, max_bytes=len(raw)).ok
    [problem] = validate(raw, max_bytes=len(raw) - 1).problems
    assert str(problem) == (
        f"$: expected at most {len(raw) - 1} bytes (stream.max_message_bytes), got {len(raw)} bytes"
    )
    assert validate(b"{" * 10, max_bytes=5).problems[0].got == "10 bytes"  # not parsed


def nested(depth: int) -> dict[str, Any]:
    """A valid event whose attributes nest ``depth`` levels in all (the event is level 1)."""
    value: Any = 1
    for _ in range(depth - 2):
        value = {"a": value}
    return with_attributes("contact.abandoned", deep=value)


def test_nesting_is_bounded_where_it_is_still_valid_json() -> None:
    assert validate(orjson.dumps(nested(32)), max_depth=32).ok
    [problem] = validate(orjson.dumps(nested(33)), max_depth=32).problems
    assert str(problem) == (
        "$: expected at most 32 levels of nesting (stream.max_nesting_depth), got deeper nesting"
    )
    # orjson reads 1023 levels but writes only 254: such an event must never be accepted.
    deep = b'{"event_id":"e","attributes":' + b'{"a":' * 600 + b"1" + b"}" * 601
    assert validate(deep, max_depth=32).problems[0].got == "deeper nesting"


@pytest.mark.parametrize(
    ("value", "limit", "deeper"),
    [
        (1, 1, False),
        ({}, 1, False),
        ([[]], 1, True),
        ([[]], 2, False),
        ({"a": [{"b": 2}]}, 2, True),
    ],
)
def test_nested_deeper_than_counts_containers_only(value: Any, limit: int, deeper: bool) -> None:
    assert validation.nested_deeper_than(value, limit) is deeper


@pytest.mark.parametrize(
    ("raw", "got"), [(b"[]", "array"), (b'"x"', '"x"'), (b"5", "5"), (b"null", "null")]
)
def test_json_that_is_not_an_object_is_named_by_what_it_is(raw: bytes, got: str) -> None:
    [problem] = validate(raw).problems
    assert str(problem) == f"$: expected a JSON object, got {got}"


def test_other_buffer_types_and_text_are_accepted() -> None:
    raw = orjson.dumps(minimal_event("contact.abandoned"))
    for sent in (raw.decode(), bytearray(raw), memoryview(raw)):
        assert validate(sent).event == minimal_event("contact.abandoned")


def test_input_that_cannot_be_decoded_at_all_is_a_problem_not_an_exception() -> None:
    [problem] = validate(12345).problems  # type: ignore[arg-type]
    assert problem.path == "$"


# ---------------------------------------------------------------- required fields


@pytest.mark.parametrize("name", ENVELOPE_REQUIRED)
def test_every_event_needs_the_envelope_fields(name: str) -> None:
    event = without("contact.abandoned", name)
    problems = check(event)
    assert [p.path for p in problems] == [name]
    assert problems[0].got == "nothing"
    assert problems[0].message == f"{name} is required for every event"


@pytest.mark.parametrize(
    ("event_type", "name"),
    [(event_type, name) for event_type, names in REQUIRED_BY_TYPE.items() for name in names],
)
def test_each_type_needs_its_own_fields(event_type: str, name: str) -> None:
    problems = check(without(event_type, name))
    assert [p.path for p in problems] == [name]
    assert problems[0].message == f"{name} is required for {event_type} events"


def test_a_missing_field_says_what_it_should_have_been() -> None:
    [problem] = check(without("contact.queued", "channel"))
    assert str(problem) == "channel: expected one of " + ", ".join(CHANNELS) + ", got nothing"


@pytest.mark.parametrize(
    ("event_type", "name"),
    [
        ("agent.state_changed", "channel"),
        ("customer.opted_out", "contact_id"),
        ("identity.linked", "contact_id"),
        ("contact.answered", "direction"),
        ("contact.answered", "customer"),
        ("contact.wrapped_up", "attributes"),
    ],
)
def test_fields_a_type_does_not_need_may_be_left_out(event_type: str, name: str) -> None:
    event = {**minimal_event(event_type), "attributes": {"x": 1}}
    event.pop(name, None)
    assert name not in event
    assert check(event) == []


def test_fields_a_type_does_not_need_may_still_be_sent() -> None:
    event = with_fields("contact.ended", agent_id="agent-1", queue="q", direction="outbound")
    assert check(event) == []


# ---------------------------------------------------------------- envelope field types


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("event_id", 5, "string of 1..128 characters"),
        ("event_id", "", "string of 1..128 characters"),
        ("event_id", "e" * 129, "string of 1..128 characters"),
        ("schema_version", 2, "1"),
        ("schema_version", "1", "1"),
        ("schema_version", True, "1"),
        ("tenant", "", "non-empty string"),
        ("tenant", None, "non-empty string"),
        ("channel", "fax", "one of voice, email, chat, sms, social"),
        ("channel", "Voice", "one of voice, email, chat, sms, social"),
        ("direction", "sideways", "one of inbound, outbound"),
        ("contact_id", "", "non-empty string"),
        ("contact_id", 42, "non-empty string"),
        ("agent_id", ["a"], "non-empty string"),
        ("queue", {}, "non-empty string"),
        ("attributes", [], "object"),
        ("attributes", "nps=9", "object"),
    ],
)
def test_envelope_fields_of_the_wrong_type_or_value(name: str, value: Any, expected: str) -> None:
    [problem] = check(with_fields("contact.ended", **{name: value}))
    assert (problem.path, problem.expected) == (name, expected)


def test_got_shows_the_value_as_json_and_cuts_long_strings() -> None:
    [problem] = check(with_fields("contact.ended", event_id="e" * 300))
    assert problem.got == '"' + "e" * 60 + '"… (300 chars)'
    [problem] = check(with_fields("contact.ended", tenant=None))
    assert problem.got == "null"


def test_event_id_of_128_characters_is_the_longest_allowed() -> None:
    assert check(with_fields("contact.ended", event_id="e" * 128)) == []


# ---------------------------------------------------------------- event type


def test_an_unknown_event_type_names_the_nearest_known_one_without_listing_them_all() -> None:
    problems = check(with_fields("contact.ended", event_type="contact.strated"))
    [problem] = problems
    assert problem.path == "event_type"
    assert problem.got == '"contact.strated"'
    assert "did you mean 'contact.started'?" in problem.message
    assert "agent.state_changed" not in str(problem) + problem.message
    assert len(str(problem)) < 100


def test_an_event_type_unlike_any_known_one_gets_no_suggestion() -> None:
    [problem] = check(with_fields("contact.ended", event_type="zzz"))
    assert problem.path == "event_type"
    assert "did you mean" not in problem.message


@pytest.mark.parametrize("value", [7, None, ["contact.started"], "envelope"])
def test_an_event_type_that_is_not_a_type_name(value: Any) -> None:
    assert paths(with_fields("contact.ended", event_type=value)) == ["event_type"]


def test_an_unknown_type_still_reports_the_envelope_problems() -> None:
    event = with_fields("contact.ended", event_type="nope", tenant="", occurred_at="yesterday")
    assert paths(event) == ["event_type", "occurred_at", "tenant"]


# ---------------------------------------------------------------- time


@pytest.mark.parametrize(
    "value",
    [
        "2026-01-05T09:00:00Z",
        "2026-01-05T09:00:00.1Z",
        "2026-01-05T09:00:00.123456789+01:00",
        "2026-01-05t09:00:00z",
        "2026-01-05T23:59:59-05:30",
        "2024-02-29T00:00:00+00:00",
    ],
)
def test_rfc3339_times_with_an_offset_are_accepted(value: str) -> None:
    assert check(with_fields("contact.ended", occurred_at=value)) == []


@pytest.mark.parametrize(
    "value",
    [
        "2026-01-05T09:00:00",  # no offset: local time of an unknown place
        "2026-01-05",
        "2026-01-05 09:00:00Z",
        "20260105T090000Z",
        "2026-01-05T09:00:00+0100",
        "2026-01-05T09:00Z",
        "2026-02-30T09:00:00Z",
        "2025-02-29T09:00:00Z",
        "2026-01-05T24:00:00Z",
        "2026-01-05T09:00:00+24:00",
        "2026-01-05T09:00:00,5Z",
        "yesterday",
        "",
        1767603600,
    ],
)
def test_times_that_are_not_rfc3339_with_an_offset_are_refused(value: Any) -> None:
    [problem] = check(with_fields("contact.ended", occurred_at=value))
    assert problem.path == "occurred_at"
    assert problem.expected.startswith("RFC 3339 date-time with offset")


def test_an_impossible_date_says_why() -> None:
    [problem] = check(with_fields("contact.ended", occurred_at="2026-02-30T09:00:00Z"))
    assert "day is out of range for month" in problem.message


# ---------------------------------------------------------------- attributes


@pytest.mark.parametrize(("score", "bounds"), SCORES.items())
def test_survey_scores_accept_their_whole_scale(score: str, bounds: tuple[int, int]) -> None:
    for value in range(bounds[0], bounds[1] + 1):
        assert check(with_fields("survey.completed", attributes={score: value})) == []


@pytest.mark.parametrize(
    ("score", "value"),
    [
        ("nps", -1),
        ("nps", 11),
        ("nps", 7.5),
        ("nps", "7"),
        ("nps", True),
        ("nps", None),
        ("csat", 0),
        ("csat", 6),
        ("ces", 0),
        ("ces", 8),
    ],
)
def test_survey_scores_off_their_scale_or_not_integers_are_refused(score: str, value: Any) -> None:
    low, high = SCORES[score]
    [problem] = check(with_fields("survey.completed", attributes={score: value}))
    assert (problem.path, problem.expected) == (f"attributes.{score}", f"integer {low}..{high}")


def test_an_integral_float_is_an_integer_as_json_schema_says() -> None:
    assert check(with_fields("survey.completed", attributes={"nps": 7.0}, schema_version=1.0)) == []


def test_a_survey_needs_at_least_one_score() -> None:
    [problem] = check(with_fields("survey.completed", attributes={"comment": "fine"}))
    assert str(problem) == "attributes: expected at least one of nps, csat, ces, got none"


@pytest.mark.parametrize(
    ("event_type", "name", "allowed"),
    ATTRIBUTE_ENUMS,
    ids=[f"{t}:{n}" for t, n, _ in ATTRIBUTE_ENUMS],
)
def test_attribute_enums_accept_their_values_and_nothing_else(
    event_type: str, name: str, allowed: tuple[str, ...]
) -> None:
    for value in allowed:
        assert check(with_attributes(event_type, **{name: value})) == []
    [problem] = check(with_attributes(event_type, **{name: "other"}))
    assert str(problem) == f'attributes.{name}: expected one of {", ".join(allowed)}, got "other"'
    assert paths(with_attributes(event_type, **{name: allowed[0].upper()})) == [
        f"attributes.{name}"
    ]


@pytest.mark.parametrize(
    ("event_type", "attributes", "path"),
    [
        ("contact.transferred", {"tier": 0}, "attributes.tier"),
        ("contact.transferred", {"tier": 1.5}, "attributes.tier"),
        ("contact.transferred", {"tier": "2"}, "attributes.tier"),
        (
            "contact.wrapped_up",
            {"resolvable_in_one_contact": "yes"},
            "attributes.resolvable_in_one_contact",
        ),
        (
            "contact.wrapped_up",
            {"resolvable_in_one_contact": 1},
            "attributes.resolvable_in_one_contact",
        ),
        ("contact.wrapped_up", {"ticket_id": 104233}, "attributes.ticket_id"),
        ("contact.queued", {"priority": "high"}, "attributes.priority"),
        ("contact.started", {"reason": ["billing"]}, "attributes.reason"),
        ("customer.opted_out", {"scope": ""}, "attributes.scope"),
        ("message.received", {"text": 5}, "attributes.text"),
    ],
)
def test_typed_attributes_of_the_wrong_type(event_type: str, attributes: dict, path: str) -> None:
    assert paths(with_attributes(event_type, **attributes)) == [path]


@pytest.mark.parametrize(
    ("event_type", "attributes"),
    [
        ("contact.transferred", {"tier": 1, "mode": "cold", "to_queue": "q", "to_agent_id": "a"}),
        ("contact.transferred", {"tier": 3}),
        ("contact.wrapped_up", {"resolvable_in_one_contact": False, "disposition": "follow_up"}),
        ("contact.queued", {"priority": 0, "skill": "fr"}),
        ("customer.opted_out", {"scope": "winback-q1"}),
        ("survey.completed", {"nps": 0, "csat": 1, "ces": 7, "comment": ""}),
    ],
)
def test_typed_attributes_of_the_right_type(event_type: str, attributes: dict) -> None:
    assert check(with_attributes(event_type, **attributes)) == []


def test_attributes_the_contract_does_not_name_are_kept_as_sent() -> None:
    extra = {"crm": {"case": [1, 2, {"deep": None}]}, "nps_source": "ivr", "score": 99}
    event = with_attributes("survey.completed", **extra)
    result = validate(orjson.dumps(event))
    assert result.event is not None
    assert result.event["attributes"] == {"nps": 9, **extra}


def test_validation_does_not_fill_in_defaults() -> None:
    event = with_attributes("contact.wrapped_up", disposition="resolved")
    result = validate(orjson.dumps(event))
    assert result.event == event
    assert "resolvable_in_one_contact" not in result.event["attributes"]


# ---------------------------------------------------------------- closed envelope, customer


def test_an_unknown_envelope_field_is_refused_with_a_pointer_to_attributes() -> None:
    [problem] = check(with_fields("contact.ended", contactId="c-1"))
    assert str(problem) == "contactId: expected an envelope field, got unknown field"
    assert "attributes" in problem.message


def test_an_unknown_identifier_kind_is_refused() -> None:
    event = with_fields("contact.started", customer={"phone": "+33612345678", "phone_number": "1"})
    [problem] = check(event)
    assert problem.path == "customer.phone_number"
    assert (
        problem.expected
        == "one of customer_id, account_id, phone, email, chat_visitor_id, social_handle"
    )


def test_identifiers_are_strings() -> None:
    event = with_fields("contact.started", customer={"phone": 33612345678})
    assert paths(event) == ["customer.phone"]


def test_junk_identifiers_are_accepted_because_an_anonymous_call_is_still_a_call() -> None:
    event = with_fields("contact.started", customer={"phone": "anonymous", "email": ""})
    assert check(event) == []


def test_a_started_contact_needs_one_identifier() -> None:
    [problem] = check(with_fields("contact.started", customer={}))
    assert (problem.path, problem.got) == ("customer", "0")


def test_an_identity_link_needs_two_identifiers() -> None:
    [problem] = check(with_fields("identity.linked", customer={"phone": "+33612345678"}))
    assert str(problem) == (
        "customer: expected at least 2 of customer_id, account_id, phone, email, "
        "chat_visitor_id, social_handle, got 1 (phone)"
    )


def test_a_customer_that_is_not_an_object() -> None:
    assert paths(with_fields("identity.linked", customer="+33612345678")) == ["customer"]


# ---------------------------------------------------------------- every problem at once


def test_every_problem_is_returned_sorted_by_path() -> None:
    event = minimal_event("survey.completed")
    del event["channel"]
    event.update(tenant="", occurred_at="2026-01-05", extra=1)
    event["attributes"] = {"nps": 12, "csat": 0}
    event["customer"] = {"fax": "1"}
    assert paths(event) == [
        "attributes.csat",
        "attributes.nps",
        "channel",
        "customer.fax",
        "extra",
        "occurred_at",
        "tenant",
    ]


def test_validate_event_checks_a_decoded_event_the_same_way() -> None:
    event = with_attributes("survey.completed", nps=11)
    assert validate_event(event).problems == validate(orjson.dumps(event)).problems
    assert validate_event(minimal_event("contact.ended")).ok


def test_a_python_object_that_is_not_json_is_a_problem_not_an_exception() -> None:
    moment = datetime(2026, 1, 5, 9, tzinfo=UTC)
    [problem] = validate_event(with_fields("contact.ended", occurred_at=moment)).problems
    assert problem.path == "occurred_at"
    assert problem.got == "datetime datetime.datetime(2026, 1, 5, 9, 0, tzinfo=datetime.timezone"


def test_the_full_check_agrees_that_valid_events_have_no_problems() -> None:
    for event_type in EVENT_TYPES:
        assert find_problems(minimal_event(event_type)) == []


def test_an_event_the_fast_check_refuses_is_never_accepted(monkeypatch) -> None:
    # If the thorough check ever found nothing where the compiled one failed, the event must
    # still be refused: reported with what the compiled validator saw.
    monkeypatch.setattr(validation, "find_problems", lambda event: [])
    result = validate(orjson.dumps(with_attributes("survey.completed", nps=11)))
    assert result.event is None
    assert [problem.path for problem in result.problems] == ["attributes.nps"]


def test_nothing_is_compiled_and_jsonschema_is_not_loaded_at_import() -> None:
    probe = (
        "import sys, schemas, schemas.validation as v\n"
        "assert not v._compiled, v._compiled\n"
        "assert 'jsonschema' not in sys.modules\n"
        "assert v.validate(b'{}').problems\n"
        "assert 'jsonschema' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True)
