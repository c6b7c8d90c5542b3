import pytest

from schemas.identifiers import hash_identifier, hashed_identifiers
from streams.canonical import canonicalise

KEY = "test-key"


def raw_event(**overrides):
    event = {
        "event_id": "e1",
        "event_type": "contact.started",
        "schema_version": 1,
        "occurred_at": "2026-01-05T10:00:00.5+01:00",
        "tenant": "acme",
        "channel": "voice",
        "direction": "inbound",
        "contact_id": "c1",
        "customer": {"phone": "06 12 34 56 78", "email": "anonymous", "customer_id": "C-7"},
        "attributes": {"reason": "billing", "vendor_field": 3},
    }
    event.update(overrides)
    return event


def test_time_becomes_utc_milliseconds_and_epoch_seconds():
    out = canonicalise(raw_event(), KEY)
    assert out["occurred_at"] == "2026-01-05T09:00:00.500Z"
    assert out["ts"] == 1767603600.5


def test_canonical_time_is_kept_and_sub_millisecond_input_is_rounded():
    kept = canonicalise(raw_event(occurred_at="2026-01-05T09:00:00.125Z"), KEY)
    assert kept["occurred_at"] == "2026-01-05T09:00:00.125Z"
    assert kept["ts"] == 1767603600.125
    rounded = canonicalise(raw_event(occurred_at="2026-01-05T09:00:00.1257Z"), KEY)
    assert rounded["occurred_at"] == "2026-01-05T09:00:00.126Z"
    assert rounded["ts"] == 1767603600.126


def test_customer_is_replaced_by_hashes_without_junk():
    out = canonicalise(raw_event(), KEY)
    assert "customer" not in out
    assert out["customer_ids"] == sorted(
        [hash_identifier("phone", "+33612345678", KEY), hash_identifier("customer_id", "C-7", KEY)]
    )
    assert out["customer_ids"] == hashed_identifiers(raw_event()["customer"], KEY)
    assert canonicalise(raw_event(customer={"email": "unknown"}), KEY)["customer_ids"] == []
    without = raw_event()
    del without["customer"]
    assert canonicalise(without, KEY)["customer_ids"] == []


def test_other_fields_and_unknown_attributes_are_kept_and_input_untouched():
    event = raw_event()
    out = canonicalise(event, KEY)
    assert out["attributes"] == {"reason": "billing", "vendor_field": 3}
    assert out["direction"] == "inbound"
    assert event["occurred_at"] == "2026-01-05T10:00:00.5+01:00"
    assert "customer" in event


def test_message_text_is_reduced_to_the_signal():
    event = raw_event(
        event_type="message.received",
        attributes={"message_id": "m1", "author": "customer", "text": "Je veux RÉSILIER"},
    )
    out = canonicalise(event, KEY)
    assert out["attributes"] == {
        "message_id": "m1",
        "author": "customer",
        "cancellation_intent": True,
    }
    assert event["attributes"]["text"] == "Je veux RÉSILIER"
    kept = canonicalise(event, KEY, keep_text=True)
    assert kept["attributes"]["text"] == "Je veux RÉSILIER"
    assert kept["attributes"]["cancellation_intent"] is True


def test_message_without_text_and_benign_text_have_no_intent():
    no_text = canonicalise(raw_event(event_type="message.sent", attributes={}), KEY)
    assert no_text["attributes"] == {"cancellation_intent": False}
    benign = canonicalise(
        raw_event(event_type="message.sent", attributes={"text": "Your router is resilient"}),
        KEY,
    )
    assert benign["attributes"] == {"cancellation_intent": False}


def test_reason_cancellation_alone_does_not_make_a_message_signal():
    event = raw_event(
        event_type="message.received", attributes={"reason": "cancellation", "text": "hello"}
    )
    assert canonicalise(event, KEY)["attributes"]["cancellation_intent"] is False


def test_survey_comment_is_reduced_to_the_signal():
    event = raw_event(
        event_type="survey.completed",
        attributes={"nps": 2, "comment": "I will close my account"},
    )
    out = canonicalise(event, KEY)
    assert out["attributes"] == {"nps": 2, "cancellation_intent": True}


def test_unparseable_time_raises_for_the_caller_to_dead_letter():
    with pytest.raises(ValueError):
        canonicalise(raw_event(occurred_at="yesterday"), KEY)
    with pytest.raises(ValueError):
        canonicalise(raw_event(occurred_at="2026-01-05T09:00:00"), KEY)
