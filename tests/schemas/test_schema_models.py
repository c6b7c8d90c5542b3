"""The typed names match the shipped JSON Schema files, and the files match each other."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from schemas.models import Channel, Direction, Envelope, EventType
from schemas.validation import event_type_names, schema_documents, validate_event
from tests.schemas.events import CHANNELS, EVENT_TYPES, minimal_event


def envelope_enum(name: str) -> list[str]:
    return schema_documents()["envelope"]["properties"][name]["enum"]


def test_the_enums_name_exactly_the_contract_values_in_its_order() -> None:
    assert [str(member) for member in EventType] == list(EVENT_TYPES) == event_type_names()
    assert [str(member) for member in Channel] == list(CHANNELS) == envelope_enum("channel")
    assert [str(member) for member in Direction] == ["inbound", "outbound"]
    assert envelope_enum("direction") == ["inbound", "outbound"]


def test_there_is_one_schema_file_per_event_type_plus_the_envelope() -> None:
    assert sorted(schema_documents()) == sorted([*EVENT_TYPES, "envelope"])


@pytest.mark.parametrize("name", ["envelope", *EVENT_TYPES])
def test_each_schema_file_is_a_valid_draft_2020_12_schema_of_version_1(name: str) -> None:
    document = schema_documents()[name]
    Draft202012Validator.check_schema(document)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["$id"] == f"https://schemas.omnicx.dev/events/v1/{name}.json"


@pytest.mark.parametrize("name", EVENT_TYPES)
def test_each_type_file_builds_on_the_envelope_and_pins_its_type(name: str) -> None:
    document = schema_documents()[name]
    assert document["allOf"] == [{"$ref": "envelope.json"}]
    assert document["properties"]["event_type"] == {"const": name}
    assert document["title"] == name


def test_the_envelope_pins_the_schema_version_and_keeps_unknown_attributes() -> None:
    properties = schema_documents()["envelope"]["properties"]
    assert properties["schema_version"]["const"] == 1
    assert properties["attributes"].get("additionalProperties", True) is True


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_an_envelope_round_trips_through_its_dict(event_type: str) -> None:
    event = {**minimal_event(event_type), "attributes": {"nps": 7, "source": "x"}}
    envelope = Envelope.from_event(event)
    assert envelope.event_type is EventType(event_type)
    assert envelope.to_event() == event
    assert validate_event(envelope.to_event()).ok


def test_an_envelope_types_its_enums_and_leaves_absent_fields_empty() -> None:
    envelope = Envelope.from_event(minimal_event("contact.started"))
    assert envelope.channel is Channel.CHAT
    assert envelope.direction is Direction.INBOUND
    assert (envelope.agent_id, envelope.queue, envelope.attributes) == (None, None, {})
    assert Envelope.from_event(minimal_event("agent.state_changed")).channel is None
