"""Genesys Cloud analytics conversation details, from a sample written from the documented shape of
the details query and jobs API (tests/pipelines/importer_samples/), through the contract check
and the stream's contact fold; every expected value is computed by hand in the comments."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from pipelines.importers import importer_for
from pipelines.importers.framework import contact_id
from pipelines.importers.genesys import GenesysImporter, conversation_events
from tests.pipelines.importer_kpis import contact_kpis, fold_contacts, handle_seconds, import_files

SAMPLE = Path(__file__).parent / "importer_samples" / "genesys_conversation_details.json"
AGENT_1, AGENT_2, AGENT_3, AGENT_4, AGENT_5 = (
    f"a9e00000-0000-4000-8000-0000000000a{n}" for n in range(1, 6)
)


def genesys_id(n: int) -> str:
    return contact_id("genesys", "acme", f"c1a00000-0000-4000-8000-00000000000{n}")


@pytest.fixture(scope="module")
def imported():
    return import_files(GenesysImporter(), [SAMPLE])


@pytest.fixture(scope="module")
def contacts(imported):
    return fold_contacts(imported.events)


def sample_conversation(n: int) -> dict:
    """Conversation ``n`` of the sample (a fresh copy)."""
    pages = [json.loads(page) for page in _pages(SAMPLE.read_text())]
    wanted = f"c1a00000-0000-4000-8000-00000000000{n}"
    return next(c for p in pages for c in p["conversations"] if c["conversationId"] == wanted)


def first_conversation() -> dict:
    return sample_conversation(1)


def test_the_registry_names_genesys():
    assert isinstance(importer_for("genesys"), GenesysImporter)


def test_talk_374894_ms_and_acw_3000_ms_handle_in_377_894_s_without_the_unanswering_agent(
    contacts,
):
    g1 = contacts[genesys_id(1)]
    assert g1.status == "closed"
    # Agent one was alerted 8 s and did not respond (tNotResponding): not the handler.
    assert g1.agents == [AGENT_2]
    assert g1.queues == ["Billing"]
    assert g1.first_queued_at == "2026-01-05T09:00:20.000Z"
    assert g1.answered_at == "2026-01-05T09:00:47.000Z"  # tAcd 27 000 ms
    assert (g1.talk_seconds, g1.hold_seconds, g1.acw_seconds) == (374.894, 0, 3)
    assert handle_seconds(g1) == pytest.approx(377.894, abs=1e-9)  # = the handler's tHandle
    assert g1.reason == "7c0de000-0000-4000-8000-00000000c0d1"  # the wrap-up code
    assert g1.customer_ids and g1.customer_ids[0].startswith("phone:")


def test_a_non_responding_session_s_metrics_never_count():
    # Even when the non-responding session carries an ACW of its own (and a wrap-up segment),
    # the handle time stays the handler's 374.894 + 3 s.
    conversation = first_conversation()
    silent = next(p for p in conversation["participants"] if p.get("userId") == AGENT_1)
    session = silent["sessions"][0]
    session["metrics"].append(
        {"emitDate": "2026-01-05T09:00:36.000Z", "name": "tAcw", "value": 3000}
    )
    session["segments"].append(
        {
            "segmentStart": "2026-01-05T09:00:33.000Z",
            "segmentEnd": "2026-01-05T09:00:36.000Z",
            "segmentType": "wrapup",
        }
    )
    facts = fold_contacts(conversation_events(conversation, "acme"))[genesys_id(1)]
    assert facts.agents == [AGENT_2]
    assert handle_seconds(facts) == pytest.approx(377.894, abs=1e-9)


def test_one_agent_alerted_twice_and_a_hold_segment(contacts):
    g2 = contacts[genesys_id(2)]
    # Session one not responding; session two: 60 s talk, 20 s hold, 60 s talk, 30 s ACW.
    assert g2.agents == [AGENT_3]
    assert g2.answered_at == "2026-01-05T10:00:40.000Z"  # 30 s after queueing
    assert (g2.talk_seconds, g2.hold_seconds, g2.acw_seconds) == (120, 20, 30)
    assert handle_seconds(g2) == 170  # the session's tHandle 170 000 ms


def test_a_blind_transfer_is_one_contact_with_a_cold_transfer(contacts):
    g3 = contacts[genesys_id(3)]
    # Sales: 5 s wait, 60 s talk, 5 s ACW; Support: 120 s talk, 20 s ACW: 205 s handled.
    assert g3.queues == ["Sales", "Support"]
    assert g3.agents == [AGENT_4, AGENT_5]
    assert (g3.transfers, g3.cold_transfers, g3.warm_transfers) == (1, 1, 0)
    assert g3.answered_at == "2026-01-05T11:00:05.000Z"
    assert (g3.talk_seconds, g3.hold_seconds, g3.acw_seconds) == (180, 0, 25)
    assert handle_seconds(g3) == 205


def test_a_consult_transfer_is_warm():
    conversation = sample_conversation(3)
    for participant in conversation["participants"]:
        for session in participant["sessions"]:
            for metric in session["metrics"]:
                if metric["name"] == "nBlindTransferred":
                    metric["name"] = "nConsultTransferred"
    facts = fold_contacts(conversation_events(conversation, "acme"))[genesys_id(3)]
    assert (facts.transfers, facts.warm_transfers, facts.cold_transfers) == (1, 1, 0)


def test_a_queue_visit_that_flowed_out_is_no_abandon():
    conversation = sample_conversation(4)
    acd = next(p for p in conversation["participants"] if p["purpose"] == "acd")
    for metric in acd["sessions"][0]["metrics"]:
        if metric["name"] == "tAbandon":
            metric["name"] = "tFlowOut"  # sent on to voicemail
    facts = fold_contacts(conversation_events(conversation, "acme"))[genesys_id(4)]
    assert not facts.abandoned and facts.status == "incomplete"
    assert facts.first_queued_at == "2026-01-05T12:00:00.000Z"


def test_abandon_self_service_and_media_types(contacts):
    g4 = contacts[genesys_id(4)]
    assert g4.abandoned and not g4.short_abandon
    assert g4.abandoned_at == "2026-01-05T12:00:45.000Z"  # tAbandon 45 000 ms
    g5 = contacts[genesys_id(5)]
    assert g5.deflected and g5.deflection_cause == "self_service"
    g6 = contacts[genesys_id(6)]
    assert g6.channel == "email"
    assert sorted(i.split(":")[0] for i in g6.customer_ids) == ["customer_id", "email"]
    g7 = contacts[genesys_id(7)]
    assert g7.channel == "sms"  # mediaType message, messageType sms
    assert g7.customer_ids[0].startswith("phone:")
    assert handle_seconds(g7) == 220


def test_the_sample_kpis_by_hand(contacts):
    kpis = contact_kpis(list(contacts.values()))
    # Offered: G1, G2, G3, G4 (abandoned after 45 s), G6, G7 = 6; answered: all but G4.
    # Waits: 27 + 30 + 5 + 600 + 30 = 692 s -> ASA 138.4 s.
    # Handle: 377.894 + 170 + 205 + 360 + 220 = 1332.894 s over 5 -> AHT 266.5788 s.
    assert kpis == {
        "offered": 6,
        "answered": 5,
        "abandoned": 1,
        "short_abandons": 0,
        "handled": 5,
        "handle_seconds_sum": 1332.894,
        "asa": 138.4,
        "aht": 266.579,
        "abandon_rate": 1 / 6,
    }


def test_unfinished_and_channelless_conversations_are_rejected_at_their_page(imported):
    assert imported.summary.read == 10  # 5 + 4 + the first conversation repeated on page 3
    assert [(r.line, r.reason, r.detail) for r in imported.rejections] == [
        (
            739,
            "a conversation still in progress",
            "no conversationEnd: import it once it has ended",
        ),
        (739, "no media type with a channel in the contract", "cobrowse"),
    ]
    # Dated by their conversationStart: the dead letters count on their business day.
    assert [r.occurred_at for r in imported.rejections] == [
        "2026-01-05T15:00:00.000Z",
        "2026-01-05T15:30:00.000Z",
    ]


def test_a_repeated_conversation_and_a_repeated_import_give_the_same_ids(imported, contacts):
    g1_events = [e for e in imported.events if e["contact_id"] == genesys_id(1)]
    ids = [e["event_id"] for e in g1_events]
    assert len(ids) == 2 * len(set(ids))  # page 3 repeats G1: the same events, counted once
    assert len(contacts) == 7
    again = import_files(GenesysImporter(), [SAMPLE])
    assert again.events == imported.events


def test_a_bare_list_and_one_conversation_a_line_read_the_same(tmp_path, imported):
    pages = [json.loads(line) for line in _pages(SAMPLE.read_text())]
    conversations = [c for page in pages for c in page["conversations"]]
    as_list = tmp_path / "list.json"
    as_list.write_text(json.dumps(conversations))
    as_lines = tmp_path / "lines.jsonl"
    as_lines.write_text("\n".join(json.dumps(c) for c in conversations))
    for path in (as_list, as_lines):
        assert import_files(GenesysImporter(), [path]).events == imported.events


def test_the_conversion_does_not_change_its_input():
    conversation = first_conversation()
    before = copy.deepcopy(conversation)
    conversation_events(conversation, "acme")
    assert conversation == before


def _pages(text: str) -> list[str]:
    """The sample's three pages (a pretty-printed one, then one a line) as JSON texts."""
    decoder = json.JSONDecoder()
    pages, position = [], 0
    while position < len(text.rstrip()):
        value, end = decoder.raw_decode(text, position)
        pages.append(json.dumps(value))
        position = end + 1
    return pages
