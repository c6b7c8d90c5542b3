"""Every JSON example in docs/events.md is a valid event, and every event type has one."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from schemas.validation import validate
from tests.schemas.events import EVENT_TYPES

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events.md"
JSON_BLOCK = re.compile(r"^```json\n(.*?)^```", re.DOTALL | re.MULTILINE)


def examples() -> list[str]:
    return JSON_BLOCK.findall(DOCS.read_text())


def test_every_example_is_a_valid_event() -> None:
    found = examples()
    assert len(found) >= len(EVENT_TYPES)
    for block in found:
        result = validate(block.encode())
        assert result.problems == [], (block, [str(problem) for problem in result.problems])


def test_every_event_type_has_exactly_one_example() -> None:
    types = Counter(validate(block.encode()).event["event_type"] for block in examples())
    assert types == Counter(EVENT_TYPES)


def test_the_examples_show_that_unknown_attributes_are_kept() -> None:
    events = [validate(block.encode()).event for block in examples()]
    [wrapped_up] = [event for event in events if event["event_type"] == "contact.wrapped_up"]
    assert wrapped_up["attributes"]["crm_case_origin"] == "phone"
