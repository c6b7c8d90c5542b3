"""The alert record's JSON Schema (ALERTS.md, docs/alerts.md) accepts the contract's shape and
rejects records that break it."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from schemas.validation import record_problems, record_schema, schema_documents

SAMPLE: dict[str, Any] = {
    "alert_id": "al-0123456789abcdef01234567",
    "tenant": "brand-a",
    "customer_key": "customer_id:" + "a" * 32,
    "customer_ids": ["account_id:" + "b" * 32, "customer_id:" + "a" * 32],
    "reason": "flagged",
    "score": 70,
    "previous_score": 40,
    "threshold": 50,
    "signals": [
        {
            "signal": "nps_detractor",
            "weight": 30,
            "evidence": [{"contact_id": "ct-1", "at": "2026-01-05T09:12:00Z"}],
        },
        {
            "signal": "opted_out",
            "weight": 10,
            "evidence": [{"contact_id": None, "at": "2026-01-05T09:13:00Z"}],
        },
    ],
    "trigger_event_id": "ev-1",
    "trigger_occurred_at": "2026-01-05T09:20:00Z",
    "created_at": "2026-01-05T09:20:01.123Z",
    "knob_set": "0123456789ab",
    "schema_version": 1,
}


def test_the_alert_schema_is_a_valid_draft_2020_12_schema_and_no_event_schema() -> None:
    document = record_schema("alert")
    Draft202012Validator.check_schema(document)
    assert document["$id"] == "https://schemas.omnicx.dev/alerts/v1/alert.json"
    assert "alert" not in schema_documents()


def test_the_sample_alert_of_the_contract_is_valid() -> None:
    assert record_problems("alert", SAMPLE) == []


def test_every_field_of_the_contract_is_required() -> None:
    assert sorted(record_schema("alert")["required"]) == sorted(SAMPLE)


def changed(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    record = copy.deepcopy(SAMPLE)
    target = record
    for part in path[:-1]:
        target = target[part]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return record


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        (("alert_id",), "al-XYZ", "alert_id"),
        (("reason",), "dropped", "reason"),
        (("score",), 101, "score"),
        (("previous_score",), "40", "previous_score"),
        (("customer_ids", 0), "phone:" + "c" * 32, "customer_ids.0"),
        (("customer_ids", 0), "+33612345678", "customer_ids.0"),
        (("signals", 0, "signal"), "angry", "signals.0.signal"),
        (("signals", 0, "evidence"), [], "signals.0.evidence"),
        (("signals", 0, "evidence", 0, "at"), "yesterday", "signals.0.evidence.0.at"),
        (("created_at",), "2026-02-30T00:00:00Z", "created_at"),
        (("schema_version",), 2, "schema_version"),
        (("signals",), [], "signals"),
        (("knob_set",), ..., "$"),
        (("business_keys",), {"customer_id": ["C-1"]}, "$"),
    ],
)
def test_a_record_breaking_the_contract_is_rejected_where_it_breaks(
    path: tuple[Any, ...], value: Any, where: str
) -> None:
    problems = record_problems("alert", changed(path, value))
    assert len(problems) == 1
    assert problems[0].startswith(f"{where}: ")
