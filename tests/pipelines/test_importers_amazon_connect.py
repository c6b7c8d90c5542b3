"""Amazon Connect contact records and agent event stream records, from the sample files written
from the documented data models (tests/pipelines/importer_samples/), through the contract check
and the stream's contact fold; every expected value is computed by hand in the comments."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from pipelines.importers import importer_for
from pipelines.importers.amazon_connect import (
    AgentEventImporter,
    ContactRecordImporter,
    Leg,
    PendingLegs,
    agent_state_event,
    parse_leg,
)
from pipelines.importers.framework import SourceRecord, contact_id
from tests.pipelines.importer_kpis import contact_kpis, fold_contacts, handle_seconds, import_files

SAMPLES = Path(__file__).parent / "importer_samples"
CTR = SAMPLES / "amazon_connect_ctr.jsonl"
AGENT_EVENTS = SAMPLES / "amazon_connect_agent_events.json"


def connect_id(source_id: str) -> str:
    return contact_id("amazon-connect-ctr", "acme", source_id)


BASIC = connect_id("c0a80001-0000-4000-8000-000000000001")
HELD = connect_id("c0a80001-0000-4000-8000-000000000002")
TRANSFERRED = connect_id("c0a80001-0000-4000-8000-00000000000a")
ABANDONED = connect_id("c0a80001-0000-4000-8000-000000000004")
SHORT = connect_id("c0a80001-0000-4000-8000-000000000005")
IVR_ONLY = connect_id("c0a80001-0000-4000-8000-000000000006")
EMAIL = connect_id("c0a80001-0000-4000-8000-000000000007")
SMS = connect_id("c0a80001-0000-4000-8000-000000000008")
OUTBOUND = connect_id("c0a80001-0000-4000-8000-000000000009")
CALLED_BACK = connect_id("c0a80001-0000-4000-8000-000000000014")


@pytest.fixture(scope="module")
def ctr():
    return import_files(ContactRecordImporter(), [CTR])


@pytest.fixture(scope="module")
def contacts(ctr):
    return fold_contacts(ctr.events)


def test_the_registry_names_both_connect_formats():
    assert isinstance(importer_for("amazon-connect-ctr"), ContactRecordImporter)
    assert isinstance(importer_for("amazon-connect-agent-events"), AgentEventImporter)


def test_a_7s_queue_33s_talk_0s_hold_32s_acw_contact_handles_in_65s(contacts):
    basic = contacts[BASIC]
    assert basic.status == "closed"
    assert (basic.queues, basic.agents, basic.channel) == (["Billing"], ["alice"], "voice")
    assert basic.first_queued_at == "2026-01-05T09:00:10.000Z"
    assert basic.answered_at == "2026-01-05T09:00:17.000Z"  # 7 s in queue
    assert (basic.talk_seconds, basic.hold_seconds, basic.acw_seconds) == (33, 0, 32)
    assert handle_seconds(basic) == 65
    assert basic.customer_ids and basic.customer_ids[0].startswith("phone:")


def test_the_latest_record_of_a_contact_id_wins_whatever_the_order(ctr):
    # Contact 1 is delivered three times: before its ACW (09:00:51), updated with it (09:01:23)
    # and the first version again at the end of the file: the update is what is converted.
    events = [e for e in ctr.events if e["contact_id"] == BASIC]
    assert [e["event_type"] for e in events] == [
        "contact.started",
        "contact.queued",
        "contact.answered",
        "contact.ended",
        "contact.wrapped_up",
    ]
    assert events[-1]["occurred_at"] == "2026-01-05T09:01:22.000Z"  # ended 09:00:50 + 32 s


def test_holds_count_customer_hold_duration_and_stay_inside_the_handle_time(contacts, ctr):
    held = contacts[HELD]
    # 20 s queue, 120 s talk, 45 s on hold over 2 holds, 15 s ACW: 180 s handled.
    assert (held.talk_seconds, held.hold_seconds, held.acw_seconds) == (120, 45, 15)
    assert handle_seconds(held) == 180
    hold = next(
        e
        for e in ctr.events
        if e["contact_id"] == HELD and e["event_type"] == "contact.hold_started"
    )
    assert hold["attributes"]["number_of_holds"] == 2
    ended = next(
        e for e in ctr.events if e["contact_id"] == HELD and e["event_type"] == "contact.ended"
    )
    # The agent hung up at 09:08:05 (connected 09:05:20 + 120 s + 45 s): ended there.
    assert ended["occurred_at"] == "2026-01-05T09:08:05.000Z"
    assert ended["attributes"]["ended_by"] == "agent"


def test_a_transfer_s_two_legs_fold_into_one_contact(contacts, ctr):
    # Leg A: Sales, 5 s wait, alice 60 s, ACW 10 s. Leg B (TRANSFER, read before A): Support,
    # 12 s wait, carol 90 s + 10 s hold, ACW 20 s. One contact: 150 + 10 + 30 = 190 s handled.
    transferred = contacts[TRANSFERRED]
    assert transferred.queues == ["Sales", "Support"]
    assert transferred.agents == ["alice", "carol"]
    assert transferred.transfers == 1
    assert transferred.answered_at == "2026-01-05T10:00:05.000Z"
    assert (transferred.talk_seconds, transferred.hold_seconds, transferred.acw_seconds) == (
        150,
        10,
        30,
    )
    assert handle_seconds(transferred) == 190
    leg_b = connect_id("c0a80001-0000-4000-8000-00000000000b")
    assert leg_b not in contacts
    ended = next(
        e
        for e in ctr.events
        if e["contact_id"] == TRANSFERRED and e["event_type"] == "contact.ended"
    )
    assert ended["attributes"]["disconnected_at"] == "2026-01-05T10:02:57.000Z"  # leg B's


def test_queued_and_never_connected_is_an_abandon_and_a_short_one_is_short(contacts):
    abandoned = contacts[ABANDONED]
    assert abandoned.abandoned and not abandoned.short_abandon
    assert abandoned.channel == "chat"
    assert abandoned.abandoned_at == "2026-01-05T09:10:40.000Z"  # 40 s after queueing
    assert abandoned.customer_ids == []  # no CustomerEndpoint: anonymous, links no one
    short = contacts[SHORT]
    assert short.abandoned and short.short_abandon  # 3 s < 5 s


def test_a_callback_continues_the_contact_it_was_requested_in(contacts):
    called_back = contacts[CALLED_BACK]
    # Queued in Billing at 10:30:00, chose a callback at 10:31:00 (not an abandon); dave reached
    # the customer at 10:36:00: 120 s talk, 20 s ACW. A callback is no transfer.
    assert connect_id("c0a80001-0000-4000-8000-000000000015") not in contacts
    assert not called_back.abandoned
    assert called_back.queues == ["Billing", "Callbacks"]
    assert called_back.answered_at == "2026-01-05T10:36:00.000Z"
    assert (called_back.agents, called_back.transfers) == (["dave"], 0)
    assert handle_seconds(called_back) == 140


def test_channels_directions_and_self_service(contacts):
    assert contacts[IVR_ONLY].deflected and contacts[IVR_ONLY].deflection_cause == "self_service"
    assert contacts[EMAIL].channel == "email"
    assert contacts[EMAIL].customer_ids[0].startswith("email:")
    assert contacts[SMS].channel == "sms"  # a CHAT with the connect:SMS subtype
    assert contacts[OUTBOUND].direction == "outbound"
    assert handle_seconds(contacts[OUTBOUND]) == 50  # 45 s talk + 5 s ACW
    assert {c.direction for k, c in contacts.items() if k != OUTBOUND} == {"inbound"}


def test_the_sample_kpis_by_hand(contacts):
    kpis = contact_kpis(list(contacts.values()))
    # Offered (queued, not short): 1, 2, transfer, chat abandon, e-mail, SMS, callback = 7.
    # Answered: 1, 2, transfer, e-mail, SMS, callback: waits 7 + 20 + 5 + 60 + 30 + 360 = 482 s
    # -> ASA 80.333 s. Handle: 65 + 180 + 190 + 360 + 210 + 140 = 1145 s over 6 -> AHT
    # 190.833 s. Abandons: 1 of 7.
    assert kpis == {
        "offered": 7,
        "answered": 6,
        "abandoned": 1,
        "short_abandons": 1,
        "handled": 6,
        "handle_seconds_sum": 1145,
        "asa": 80.333,
        "aht": 190.833,
        "abandon_rate": 1 / 7,
    }


def test_tasks_and_monitoring_legs_are_read_not_converted_and_bad_lines_rejected(ctr, contacts):
    assert ctr.summary.read == 18  # 17 lines, one holding two concatenated records
    assert connect_id("c0a80001-0000-4000-8000-000000000010") not in contacts  # TASK
    assert connect_id("c0a80001-0000-4000-8000-000000000011") not in contacts  # MONITOR
    assert [(r.line, r.reason, r.detail) for r in ctr.rejections] == [
        (13, "not JSON", "Invalid control character at"),  # cut inside a string
        (14, "a time without a UTC offset or unreadable", "InitiationTimestamp"),
    ]
    assert ctr.rejections[1].source is not None and "c0a80001" in ctr.rejections[1].source
    assert [r.occurred_at for r in ctr.rejections] == [None, None]  # no time readable
    assert len(contacts) == 10


def test_unknown_fields_are_ignored_and_the_contract_is_kept(ctr):
    # The updated record of contact 1 carries fields from the future; every event passed the
    # framework's contract check (a broken one would be a rejection).
    assert ctr.summary.rejected_total == 2
    assert ctr.summary.events == len(ctr.events) > 0


def test_the_same_file_twice_and_shuffled_gives_the_same_events(ctr, tmp_path):
    again = import_files(ContactRecordImporter(), [CTR])
    assert again.events == ctr.events
    lines = CTR.read_text().splitlines(keepends=True)
    random.Random(7).shuffle(lines)
    shuffled = tmp_path / "shuffled.jsonl"
    shuffled.write_text("".join(lines))
    reordered = import_files(ContactRecordImporter(), [shuffled])
    by_id = lambda events: sorted(events, key=lambda e: e["event_id"])  # noqa: E731
    assert by_id(reordered.events) == by_id(ctr.events)


def test_firehose_files_without_delimiters_and_pretty_printed_records(tmp_path):
    records = [json.loads(line) for line in CTR.read_text().splitlines()[:4]]
    concatenated = tmp_path / "firehose-no-delimiter"
    concatenated.write_text("".join(json.dumps(r) for r in records))
    pretty = tmp_path / "pretty.json"
    pretty.write_text("\n".join(json.dumps(r, indent=2) for r in records))
    lines = tmp_path / "lines.jsonl"
    lines.write_text("\n".join(json.dumps(r) for r in records))
    results = [import_files(ContactRecordImporter(), [p]).events for p in (concatenated, pretty)]
    assert results[0] == results[1] == import_files(ContactRecordImporter(), [lines]).events


def _leg(index: int, updated_minute: int) -> Leg:
    at = f"2026-01-05T{8 + updated_minute // 60:02d}:{updated_minute % 60:02d}:00Z"
    data = {
        "ContactId": f"contact-{index}",
        "Channel": "VOICE",
        "InitiationMethod": "INBOUND",
        "InitiationTimestamp": at,
        "LastUpdateTimestamp": at,
        "DisconnectTimestamp": at,
    }
    leg = parse_leg(SourceRecord("f", index, data))
    assert leg is not None
    return leg


def test_legs_wait_at_most_the_settle_window():
    pending = PendingLegs()
    most = 0
    for minute in range(600):  # one contact a minute for 10 hours, settling after 10 minutes
        pending.add(_leg(minute, minute))
        released = list(pending.settled(10 * 60_000))
        most = max(most, len(pending.groups))
        assert all(len(group) == 1 for group in released)
    assert most == 10  # the contacts updated within the last 10 minutes
    assert len(list(pending.settled(None))) == 10


@pytest.fixture(scope="module")
def agent_events():
    return import_files(AgentEventImporter(), [AGENT_EVENTS])


def test_agent_event_stream_state_changes(agent_events):
    states = [
        (e["agent_id"], e["occurred_at"][11:19], e["attributes"]["state"])
        for e in agent_events.events
    ]
    # HEART_BEAT, a routing-profile change, CONNECTING (still available) and going on hold
    # (still busy) change no state; ENDED in the snapshot is after-contact work; a MISSED
    # contact takes the agent out of routing like a break.
    assert states == [
        ("alice", "08:55:00", "available"),
        ("alice", "09:00:17", "busy"),
        ("alice", "09:00:50", "after_contact_work"),
        ("alice", "09:01:22", "available"),
        ("alice", "10:00:00", "break"),
        ("alice", "10:30:00", "available"),
        ("alice", "11:00:00", "offline"),
        ("bob", "09:00:00", "available"),
        ("bob", "09:05:20", "busy"),
        ("bob", "09:08:25", "after_contact_work"),
        ("bob", "09:08:40", "available"),
        ("bob", "09:20:00", "break"),
        ("bob", "09:21:00", "available"),
        ("bob", "09:30:00", "offline"),
    ]
    assert agent_events.events[4]["attributes"]["status"] == "Lunch"
    assert agent_events.summary.read == 19
    assert [(r.reason, r.detail) for r in agent_events.rejections] == [
        ("an unknown AgentStatus.Type", "SOMETHING_NEW")
    ]
    assert agent_events.rejections[0].occurred_at == "2026-01-05T09:40:00.000Z"
    again = import_files(AgentEventImporter(), [AGENT_EVENTS])
    assert [e["event_id"] for e in again.events] == [e["event_id"] for e in agent_events.events]


def test_an_unreadable_previous_snapshot_does_not_lose_the_event():
    snapshot = {"AgentStatus": {"Name": "Available", "Type": "ROUTABLE"},
                "Configuration": {"Username": "zoe"}, "Contacts": []}  # fmt: skip
    record = {
        "EventType": "STATE_CHANGE",
        "EventId": "e-1",
        "EventTimestamp": "2026-01-05T09:00:00.000Z",
        "CurrentAgentSnapshot": snapshot,
        "PreviousAgentSnapshot": {"AgentStatus": {"Type": "FROM_THE_FUTURE"}},
    }
    event = agent_state_event(record, "acme")
    assert event is not None and event["attributes"]["state"] == "available"
    record["PreviousAgentSnapshot"] = snapshot  # the same state before: nothing to say
    assert agent_state_event(record, "acme") is None
