"""Amazon Connect dispositions: the contact attributes ``disposition`` / ``resolved`` of a contact
record become the contact's disposition, hence FCR (docs/importers.md, Amazon Connect)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.importers.amazon_connect import ContactRecordImporter
from tests.pipelines.importer_kpis import fold_contacts, import_files

SAMPLE = Path(__file__).parent / "importer_samples" / "amazon_connect_ctr.jsonl"


def handled_record(attributes: dict[str, str], contact_id: str = "a-1") -> dict:
    """The sample's 65 s call (7 s queue, 33 s talk, 32 s ACW) with these contact attributes."""
    record = json.loads(SAMPLE.read_text().splitlines()[1])
    return {**record, "ContactId": contact_id, "Attributes": attributes}


def outcomes(tmp_path: Path, *records: dict):
    path = tmp_path / "ctr.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    imported = import_files(ContactRecordImporter(), [path])
    return imported, fold_contacts(imported.events)


@pytest.mark.parametrize(
    ("attributes", "disposition"),
    [
        ({"disposition": "resolved"}, "resolved"),
        ({"Disposition": "Follow-up"}, "follow_up"),
        ({"resolved": "no", "greetingPlayed": "true"}, "unresolved"),
        ({"Resolved": "TRUE"}, "resolved"),
        ({"disposition": "escalated", "resolved": "yes"}, "escalated"),  # the disposition wins
        ({"greetingPlayed": "true"}, None),
    ],
)
def test_contact_attributes_give_the_disposition(tmp_path, attributes, disposition):
    imported, contacts = outcomes(tmp_path, handled_record(attributes))
    [facts] = contacts.values()
    assert facts.disposition == disposition
    assert (facts.talk_seconds, facts.acw_seconds) == (33.0, 32.0)
    assert imported.rejections == []


@pytest.mark.parametrize(
    ("attributes", "reason"),
    [
        ({"disposition": "sorted it out"}, "an unknown disposition"),
        ({"resolved": "perhaps"}, "an unreadable yes/no"),
    ],
)
def test_an_unreadable_outcome_makes_the_record_a_dead_letter(tmp_path, attributes, reason):
    imported, contacts = outcomes(tmp_path, handled_record(attributes))
    assert contacts == {}
    [rejection] = imported.rejections
    assert rejection.reason == reason and "perhaps" not in rejection.message
    assert "sorted" not in rejection.message


def test_a_transferred_contact_takes_the_outcome_of_its_last_leg_naming_one(tmp_path):
    first = handled_record({"resolved": "no"}, "leg-a")
    second = {
        **handled_record({"resolved": "yes"}, "leg-b"),
        "InitiationMethod": "TRANSFER",
        "PreviousContactId": "leg-a",
        "InitialContactId": "leg-a",
        "InitiationTimestamp": "2026-01-05T09:01:30Z",
        "LastUpdateTimestamp": "2026-01-05T09:03:00Z",
    }
    second["Queue"] = {**second["Queue"], "EnqueueTimestamp": "2026-01-05T09:01:30Z"}
    second["Agent"] = {**second["Agent"], "ConnectedToAgentTimestamp": "2026-01-05T09:01:40Z"}
    _, contacts = outcomes(tmp_path, first, second)
    [facts] = contacts.values()
    assert facts.transfers == 1 and facts.disposition == "resolved"
