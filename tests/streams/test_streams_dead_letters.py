"""Dead-letter records: what analysts see (redacted) and what operators keep (the bytes)."""

from __future__ import annotations

import base64
import hashlib

import orjson
import pytest

from schemas.validation import validate
from streams.dead_letters import (
    MAX_ERRORS,
    PREVIEW_CHARS,
    REDACTED,
    dead_letter_id,
    dead_letter_records,
    redact_preview,
    redact_problem,
)

PHONE, EMAIL, HANDLE, VISITOR = "+33 6 12 34 56 78", "ada@example.org", "@ada_l", "v-9f3k2q"
CUSTOMER_ID, TEXT = "CUST-4471", "Hello, I want to cancel, call me back"
PERSONAL = (PHONE, EMAIL, HANDLE, VISITOR, CUSTOMER_ID, TEXT, "33612345678")

EVENT = {
    "event_id": "e-1",
    "event_type": "message.received",
    "schema_version": 1,
    "occurred_at": "2026-01-05T09:00:00Z",
    "tenant": "acme",
    "channel": "chat",
    "contact_id": "c-7",
    "customer": {
        "phone": PHONE,
        "email": EMAIL,
        "social_handle": HANDLE,
        "chat_visitor_id": VISITOR,
        "customer_id": CUSTOMER_ID,
    },
    "attributes": {"text": TEXT, "author": "customer", "subject": "Re: my bill", "n": 33612345678},
}


def records(raw: bytes | None, problems, *, replay_of=None, max_stored_bytes=1000):
    return dead_letter_records(
        raw, problems, "omnicx.raw-events", 2, 40, replay_of=replay_of,
        max_stored_bytes=max_stored_bytes,
    )  # fmt: skip


def assert_no_personal_data(text: str) -> None:
    for value in PERSONAL:
        assert value not in text


@pytest.mark.parametrize(
    "raw",
    [
        orjson.dumps(EVENT),  # valid JSON (an event rejected for another reason)
        orjson.dumps(EVENT)[:-40],  # cut short inside the text
        orjson.dumps(EVENT).replace(b'"e-1",', b"'e-1' \xff"),  # broken JSON, bad UTF-8
        orjson.dumps(EVENT, option=orjson.OPT_INDENT_2),
    ],
)
def test_the_preview_masks_identifiers_and_free_text_and_keeps_ids_and_codes(raw: bytes) -> None:
    preview = redact_preview(raw)
    assert_no_personal_data(preview)
    assert "Re: my bill" not in preview
    for kept in ('"message.received"', '"acme"', '"c-7"', '"customer"', '"occurred_at"'):
        assert kept in preview
    assert f'"text": "{REDACTED}"' in preview or f'"text":"{REDACTED}"' in preview


def test_the_preview_of_valid_json_is_exact_apart_from_the_masks() -> None:
    raw = b'{"event_id":"e-1","queue":"billing","customer":{"phone":"+33 6"},"nps":7,"x":[1,"a"]}'
    assert redact_preview(raw) == (
        '{"event_id":"e-1","queue":"billing","customer":{"phone":"<redacted>"},"nps":7,'
        '"x":[1,"<redacted>"]}'
    )


def test_the_preview_masks_keys_that_are_not_names_and_digits_outside_strings() -> None:
    raw = b'{"ada@example.org": 1, "phone": 33612345678, "tier": 2} trailing ada@x.org'
    assert redact_preview(raw) == (
        '{"<redacted>": 1, "phone": <redacted>, "tier": 2} trailing <redacted>'
    )


def test_the_preview_is_cut_at_its_length() -> None:
    preview = redact_preview(b"[" + b"1," * 5000)
    assert len(preview) == PREVIEW_CHARS


def test_an_identifier_echoed_by_a_validation_problem_is_masked() -> None:
    bad = {**EVENT, "customer": {"phone": 33612345678}, "attributes": {"author": "robot"}}
    problems = validate(orjson.dumps(bad)).problems
    redacted = [redact_problem(p) for p in problems]
    assert_no_personal_data(" ".join(redacted))
    assert "customer.phone: expected string, got a number (<redacted>)" in redacted
    assert any(r.startswith("attributes.author: expected one of") for r in redacted)
    assert any(r.endswith('got "robot"') for r in redacted)  # a code, not personal data
    text_problem = validate(orjson.dumps({**EVENT, "attributes": {"text": 5}})).problems
    assert redact_problem(text_problem[0]) == "attributes.text: expected string, got 5"


def test_analyst_record_has_ids_hash_and_redacted_preview_not_the_bytes() -> None:
    raw = orjson.dumps({**EVENT, "occurred_at": "yesterday"})
    dead = records(raw, validate(raw).problems)
    analyst = dead.analyst
    assert analyst["dead_letter_id"] == dead_letter_id("omnicx.raw-events", 2, 40)
    assert (analyst["topic"], analyst["partition"], analyst["offset"]) == (
        "omnicx.raw-events",
        2,
        40,
    )
    assert (analyst["event_type"], analyst["event_id"], analyst["contact_id"]) == (
        "message.received", "e-1", "c-7",
    )  # fmt: skip
    assert analyst["tenant"] == "acme"
    assert analyst["raw_size"] == len(raw)
    assert analyst["raw_sha256"] == hashlib.sha256(raw).hexdigest()
    assert analyst["errors"][0].startswith("occurred_at: expected RFC 3339")
    assert "raw_base64" not in analyst and analyst["replayed"] is False
    assert_no_personal_data(orjson.dumps(analyst).decode())


def test_operator_record_keeps_the_exact_bytes_and_full_errors() -> None:
    raw = b'{"event_id": "x", \xff broken ' + PHONE.encode()
    operator = records(raw, ["not JSON", "second"]).operator
    assert base64.b64decode(operator["raw_base64"]) == raw
    assert operator["errors"] == ["not JSON", "second"]
    assert operator["tombstone"] is False
    assert operator["raw_sha256"] == hashlib.sha256(raw).hexdigest()


def test_bytes_over_the_stored_bound_are_left_in_the_raw_topic() -> None:
    raw = b"x" * 1001
    dead = records(raw, "too large")
    assert dead.operator["raw_base64"] is None
    assert dead.operator["raw_size"] == 1001
    assert dead.operator["raw_sha256"] == hashlib.sha256(raw).hexdigest()
    assert len(orjson.dumps(dead.analyst)) < 4000


def test_a_tombstone_gives_records_without_bytes() -> None:
    dead = records(None, "a Kafka tombstone (null value)")
    assert dead.operator["tombstone"] is True and dead.operator["raw_base64"] is None
    assert dead.analyst["raw_size"] == 0 and dead.analyst["redacted_preview"] is None
    assert dead.analyst["event_type"] is None


def test_errors_are_bounded_in_number_and_length() -> None:
    dead = records(b"{}", [f"field_{i}: unknown " + "x" * 1000 for i in range(500)])
    errors = dead.analyst["errors"]
    assert len(errors) == MAX_ERRORS + 1 and errors[-1] == f"... and {500 - MAX_ERRORS} more"
    assert all(len(error) <= 301 for error in errors)


def test_a_replayed_copy_keeps_the_id_of_its_original() -> None:
    dead = records(b"{", "not JSON", replay_of="abc123")
    assert dead.analyst["dead_letter_id"] == dead.operator["dead_letter_id"] == "abc123"
    assert dead.analyst["replayed"] is True
    assert dead_letter_id("t", 0, 1) != dead_letter_id("t", 1, 0)
    assert dead_letter_id("t", 0, 1) == dead_letter_id("t", 0, 1)
