"""Property-based checks: random valid events of every type pass; the same events with one
thing broken fail with a problem at the broken field; the compiled and the thorough validator
agree; nothing makes ``validate`` raise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.validation import find_problems, validate
from tests.schemas.events import (
    ATTRIBUTE_ENUMS,
    CHANNELS,
    ENVELOPE_REQUIRED,
    EVENT_TYPES,
    IDENTIFIER_KINDS,
    REQUIRED_BY_TYPE,
    SCORES,
)

PROPERTIES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

names = st.text(min_size=1, max_size=16)
json_integers = st.integers(-(2**63), 2**63 - 1)  # what orjson encodes
json_scalars = st.none() | st.booleans() | json_integers | st.text(max_size=12)
json_values = st.recursive(
    json_scalars | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
not_strings = st.none() | st.booleans() | json_integers | st.lists(json_scalars, max_size=2)
not_objects = (
    st.none() | st.booleans() | json_integers | st.text() | st.lists(json_scalars, max_size=2)
)


def scores_between(score: str) -> st.SearchStrategy[int]:
    low, high = SCORES[score]
    return st.integers(low, high)


def _typed_attributes() -> dict[str, dict[str, st.SearchStrategy[Any]]]:
    typed: dict[str, dict[str, st.SearchStrategy[Any]]] = {
        "contact.started": {"entry_point": names, "reason": names, "language": names},
        "ivr.message_played": {"message_id": names},
        "contact.queued": {"skill": names, "priority": st.integers(-5, 100)},
        "contact.transferred": {
            "to_queue": names,
            "to_agent_id": names,
            "tier": st.integers(1, 2**31),
        },
        "contact.wrapped_up": {
            "reason": names,
            "ticket_id": names,
            "resolvable_in_one_contact": st.booleans(),
        },
        "message.received": {"message_id": names, "text": st.text(max_size=40)},
        "message.sent": {"message_id": names, "text": st.text(max_size=40)},
        "survey.completed": {
            **{score: scores_between(score) for score in SCORES},
            "comment": st.text(max_size=40),
        },
        "outbound.attempted": {"campaign": names},
        "customer.opted_out": {"scope": st.just("all") | names},
    }
    for event_type, name, allowed in ATTRIBUTE_ENUMS:
        typed.setdefault(event_type, {})[name] = st.sampled_from(allowed)
    return typed


TYPED_ATTRIBUTES = _typed_attributes()


@st.composite
def rfc3339_times(draw: st.DrawFn) -> str:
    moment = draw(st.datetimes(datetime(1970, 1, 2), datetime(2100, 1, 1)))
    offset = timedelta(minutes=draw(st.integers(-(23 * 60 + 59), 23 * 60 + 59)))
    precision = draw(st.sampled_from(["seconds", "milliseconds", "microseconds"]))
    text = moment.replace(tzinfo=timezone(offset)).isoformat(timespec=precision)
    return text.replace("+00:00", "Z") if draw(st.booleans()) else text


@st.composite
def customers(draw: st.DrawFn, at_least: int) -> dict[str, str]:
    kinds = draw(st.lists(st.sampled_from(IDENTIFIER_KINDS), min_size=at_least, unique=True))
    return {kind: draw(st.text(max_size=20)) for kind in kinds}


@st.composite
def attributes(draw: st.DrawFn, event_type: str) -> dict[str, Any]:
    typed = TYPED_ATTRIBUTES.get(event_type, {})
    chosen = draw(st.lists(st.sampled_from(sorted(typed)), unique=True)) if typed else []
    if event_type == "survey.completed" and not set(chosen) & set(SCORES):
        chosen.append(draw(st.sampled_from(sorted(SCORES))))
    values = {name: draw(typed[name]) for name in chosen}
    # Whatever else the source sends; the prefix keeps clear of the typed names.
    extra = draw(st.dictionaries(names.map("x_".__add__), json_values, max_size=3))
    return {**extra, **values}


@st.composite
def valid_events(draw: st.DrawFn, event_type: str | None = None) -> dict[str, Any]:
    event_type = event_type or draw(st.sampled_from(EVENT_TYPES))
    required = REQUIRED_BY_TYPE[event_type]
    least_identifiers = {"contact.started": 1, "identity.linked": 2}.get(event_type, 0)
    fields: dict[str, st.SearchStrategy[Any]] = {
        "channel": st.sampled_from(CHANNELS),
        "direction": st.sampled_from(["inbound", "outbound"]),
        "contact_id": names,
        "customer": customers(least_identifiers),
        "agent_id": names,
        "queue": names,
        "attributes": attributes(event_type),
    }
    event = {
        "event_id": draw(st.text(min_size=1, max_size=128)),
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": draw(rfc3339_times()),
        "tenant": draw(names),
    }
    for name, values in fields.items():
        if name in required or draw(st.booleans()):
            event[name] = draw(values)
    return event


def problem_paths(event: Any) -> list[str]:
    result = validate(orjson.dumps(event))
    assert result.event is None
    return [problem.path for problem in result.problems]


@PROPERTIES
@given(valid_events())
def test_random_valid_events_of_every_type_pass_unchanged(event: dict[str, Any]) -> None:
    result = validate(orjson.dumps(event))
    assert result.problems == []
    assert result.event == event


@PROPERTIES
@given(st.data())
def test_dropping_a_required_field_is_reported_at_that_field(data: st.DataObject) -> None:
    event = data.draw(valid_events())
    name = data.draw(st.sampled_from(ENVELOPE_REQUIRED + REQUIRED_BY_TYPE[event["event_type"]]))
    del event[name]
    assert name in problem_paths(event)


STRING_FIELDS = ("event_id", "occurred_at", "tenant", "channel", "direction", "contact_id")
STRING_FIELDS += ("agent_id", "queue", "event_type")


@PROPERTIES
@given(st.data())
def test_a_field_of_the_wrong_type_is_reported_at_that_field(data: st.DataObject) -> None:
    event = data.draw(valid_events())
    name = data.draw(st.sampled_from([*STRING_FIELDS, "schema_version", "customer", "attributes"]))
    if name in STRING_FIELDS:
        event[name] = data.draw(not_strings)
    elif name == "schema_version":
        event[name] = data.draw(st.none() | st.booleans() | st.text() | st.floats(1.5, 9.5))
    else:
        event[name] = data.draw(not_objects)
    assert name in problem_paths(event)


@PROPERTIES
@given(st.data())
def test_a_survey_score_off_its_scale_is_reported_at_that_score(data: st.DataObject) -> None:
    event = data.draw(valid_events("survey.completed"))
    score = data.draw(st.sampled_from(sorted(SCORES)))
    low, high = SCORES[score]
    off_scale = json_integers.filter(lambda value: not low <= value <= high)
    event["attributes"][score] = data.draw(off_scale)
    assert f"attributes.{score}" in problem_paths(event)


@PROPERTIES
@given(st.data())
def test_a_bad_attribute_value_is_reported_at_that_attribute(data: st.DataObject) -> None:
    event_type, name, allowed = data.draw(st.sampled_from(ATTRIBUTE_ENUMS))
    event = data.draw(valid_events(event_type))
    event["attributes"] = event.get("attributes", {})
    event["attributes"][name] = data.draw(json_values.filter(lambda value: value not in allowed))
    assert f"attributes.{name}" in problem_paths(event)


@st.composite
def bad_times(draw: st.DrawFn) -> str:
    moment = draw(st.datetimes(datetime(1970, 1, 2), datetime(2100, 1, 1)))
    naive = moment.isoformat(timespec="seconds")
    return draw(
        st.sampled_from(
            [
                naive,  # no offset
                moment.date().isoformat(),
                naive.replace("T", " ") + "Z",
                moment.replace(tzinfo=UTC).strftime("%Y%m%dT%H%M%S%z"),
                naive + "+01",
            ]
        )
    )


@PROPERTIES
@given(valid_events(), bad_times())
def test_a_bad_time_is_reported_at_occurred_at(event: dict[str, Any], bad_time: str) -> None:
    event["occurred_at"] = bad_time
    assert "occurred_at" in problem_paths(event)


@PROPERTIES
@given(valid_events(), st.text(max_size=30).filter(lambda name: name not in EVENT_TYPES))
def test_an_unknown_type_is_reported_at_event_type(event: dict[str, Any], name: str) -> None:
    event["event_type"] = name
    assert "event_type" in problem_paths(event)


ENVELOPE_FIELDS = {*ENVELOPE_REQUIRED, "channel", "direction", "contact_id", "customer"}
ENVELOPE_FIELDS |= {"agent_id", "queue", "attributes"}


@PROPERTIES
@given(valid_events(), names.filter(lambda name: name not in ENVELOPE_FIELDS), json_values)
def test_an_unknown_envelope_field_is_reported_at_that_field(
    event: dict[str, Any], name: str, value: Any
) -> None:
    event[name] = value
    assert name in problem_paths(event)


@PROPERTIES
@given(st.data())
def test_the_compiled_and_the_thorough_validator_agree(data: st.DataObject) -> None:
    # Any value in any place: both must draw the line between valid and invalid in one spot.
    event = data.draw(valid_events())
    name = data.draw(st.sampled_from(sorted(ENVELOPE_FIELDS)))
    if name == "attributes" and data.draw(st.booleans()):
        attribute = data.draw(st.sampled_from(["nps", "csat", "ces", "tier", "mode", "state"]))
        event.setdefault("attributes", {})[attribute] = data.draw(json_values)
    else:
        event[name] = data.draw(json_values | rfc3339_times() | st.sampled_from(EVENT_TYPES))
    result = validate(orjson.dumps(event))
    assert result.ok == (find_problems(event) == [])


@PROPERTIES
@given(st.binary(max_size=200) | json_values.map(orjson.dumps))
def test_validate_never_raises(raw: bytes) -> None:
    result = validate(raw)
    assert result.ok == (result.problems == [])
