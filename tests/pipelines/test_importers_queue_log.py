"""The Asterisk / FreePBX / Wazo queue_log importer on sample logs written from the documented
event shapes (docs.asterisk.org, Queue Logs; Wazo's queue_log table), each contact's KPI inputs
computed by hand and compared with the stream's own fold of the imported events."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.importers.framework import ImportFailed
from tests.pipelines.importing import by_type, contacts, imported, seconds_between

T0 = 1609491600  # 2021-01-01T09:00:00Z


def log(tmp_path: Path, *lines: str, name: str = "queue_log") -> Path:
    path = tmp_path / name
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def only(facts: dict) -> dict:
    assert len(facts) == 1, facts
    return next(iter(facts.values()))


def test_completeagent_with_hold_2_and_call_12_gives_asa_2_and_talk_12(tmp_path: Path) -> None:
    path = log(
        tmp_path,
        f"{T0}|1609491600.1|support|NONE|ENTERQUEUE||0612345678|1",
        f"{T0 + 2}|1609491600.1|support|SIP/2001|CONNECT|2|1609491602.2|1",
        f"{T0 + 14}|1609491600.1|support|SIP/2001|COMPLETEAGENT|2|12|1",
    )
    events, rejections = imported("queue-log", path)
    assert rejections == []
    contact = only(contacts(events))
    assert seconds_between(contact["answered_at"], contact["first_queued_at"]) == 2  # ASA
    assert contact["talk_seconds"] == 12
    assert contact["hold_seconds"] == 0  # queue_log's "holdtime" is the wait in queue
    assert contact["acw_seconds"] == 0  # queue_log logs no wrap-up time
    assert contact["started_at"] == "2021-01-01T09:00:00.000Z"
    assert contact["queues"] == ["support"] and contact["agents"] == ["SIP/2001"]
    assert contact["direction"] == "inbound" and len(contact["customer_ids"]) == 1
    ended = by_type(events)["contact.ended"]
    assert [e["attributes"]["ended_by"] for e in ended] == ["agent"]


def test_an_abandon_after_6_s_is_an_abandon_not_a_short_one(tmp_path: Path) -> None:
    path = log(
        tmp_path,
        f"{T0}|c.1|support|NONE|ENTERQUEUE||0612345678|1",
        f"{T0 + 6}|c.1|support|NONE|ABANDON|1|1|6",
        f"{T0 + 10}|c.2|support|NONE|ENTERQUEUE||0698765432|1",
        f"{T0 + 13}|c.2|support|NONE|ABANDON|1|1|3",
    )
    facts = contacts(imported("queue-log", path)[0])
    long, short = sorted(facts.values(), key=lambda c: c["first_queued_at"])
    assert long["abandoned"] and not long["short_abandon"]
    assert seconds_between(long["abandoned_at"], long["first_queued_at"]) == 6
    assert short["abandoned"] and short["short_abandon"]
    assert long["answered_at"] is None and long["talk_seconds"] is None


def test_a_call_that_enters_and_never_leaves_is_kept_open_not_lost(tmp_path: Path) -> None:
    """Its events are published; the stream closes it as incomplete after its idle timeout."""
    path = log(tmp_path, f"{T0}|c.9|support|NONE|ENTERQUEUE||0612345678|1")
    events, rejections = imported("queue-log", path)
    assert [e["event_type"] for e in events] == ["contact.started", "contact.queued"]
    contact = only(contacts(events))
    assert contact["first_queued_at"] == "2021-01-01T09:00:00.000Z"
    assert not contact["abandoned"] and contact["ended_at"] is None and rejections == []


@pytest.mark.parametrize(
    ("line", "waited", "ended_by"),
    [
        ("EXITWITHTIMEOUT|1|1|30", 30, "system"),
        ("EXITEMPTY|1|1|8", 8, "system"),
        ("EXITWITHKEY|5|1|1|12", 12, "customer"),
    ],
)
def test_exits_are_offered_unanswered_and_not_abandons(
    tmp_path: Path, line: str, waited: int, ended_by: str
) -> None:
    path = log(
        tmp_path,
        f"{T0}|c.3|support|NONE|ENTERQUEUE||0612345678|1",
        f"{T0 + waited}|c.3|support|NONE|{line}",
    )
    events, _ = imported("queue-log", path)
    contact = only(contacts(events))
    assert contact["first_queued_at"] is not None  # offered
    assert contact["answered_at"] is None and not contact["abandoned"]
    assert seconds_between(contact["ended_at"], contact["first_queued_at"]) == waited
    assert contact["wrapped_up_at"] == contact["ended_at"]  # closed, not left open
    assert by_type(events)["contact.ended"][0]["attributes"]["ended_by"] == ended_by


@pytest.mark.parametrize(
    ("event", "reason"),
    [("FULL", "queue_full"), ("JOINEMPTY", "queue_empty"), ("CLOSED", "queue_closed")],
)
def test_refused_joins_never_reach_a_queue(tmp_path: Path, event: str, reason: str) -> None:
    path = log(tmp_path, f"{T0}|c.4|support|NONE|{event}|")
    events, rejections = imported("queue-log", path)
    assert rejections == []
    contact = only(contacts(events))
    assert contact["first_queued_at"] is None and contact["queues"] == []  # not offered
    assert contact["reason"] == reason and contact["ended_at"] == "2021-01-01T09:00:00.000Z"


def test_a_transferred_call_that_queues_again_is_one_contact(tmp_path: Path) -> None:
    """Agent 2001 talks 20 s and blind-transfers to the billing queue; the caller waits there
    6 s (2 s of transfer, 4 s queued) and agent 2002 talks 30 s: one contact, ASA 3 s, talk
    50 s, the 6 s between the agents on hold, one cold transfer."""
    call = "1609491600.7"
    path = log(
        tmp_path,
        f"{T0}|{call}|support|NONE|ENTERQUEUE||0612345678|1",
        f"{T0 + 3}|{call}|support|SIP/2001|CONNECT|3|x.1|2",
        f"{T0 + 23}|{call}|support|SIP/2001|BLINDTRANSFER|700|from-queue|3|20|1",
        f"{T0 + 25}|{call}|billing|NONE|ENTERQUEUE||0612345678|1",
        f"{T0 + 29}|{call}|billing|SIP/2002|CONNECT|4|x.2|1",
        f"{T0 + 59}|{call}|billing|SIP/2002|COMPLETECALLER|4|30|1",
    )
    events, _ = imported("queue-log", path)
    contact = only(contacts(events))
    assert seconds_between(contact["answered_at"], contact["first_queued_at"]) == 3
    assert contact["talk_seconds"] == 50 and contact["hold_seconds"] == 6
    assert contact["transfers"] == 1 and contact["cold_transfers"] == 1
    assert contact["agents"] == ["SIP/2001", "SIP/2002"]
    assert contact["queues"] == ["support", "billing"]
    assert [e["attributes"]["ended_by"] for e in by_type(events)["contact.ended"]] == ["customer"]


def test_a_transfer_out_of_the_queues_ends_the_contact_at_the_transfer(tmp_path: Path) -> None:
    """Nothing more of the call is logged: its end waits for the idle horizon (4 h of log) and
    is published before the later call's events, so memory holds only recent calls."""
    path = log(
        tmp_path,
        f"{T0}|c.5|support|NONE|ENTERQUEUE||0612345678|1",
        f"{T0 + 5}|c.5|support|SIP/2001|CONNECT|5|x.1|1",
        f"{T0 + 65}|c.5|support|SIP/2001|ATTENDEDTRANSFER|BRIDGE|x.9|5|60|1",
        f"{T0 + 5 * 3600}|c.6|support|NONE|ENTERQUEUE||0698765432|1",
    )
    events, _ = imported("queue-log", path)
    types = [(e["contact_id"], e["event_type"]) for e in events if "contact_id" in e]
    first = types[0][0]
    assert types.index((first, "contact.ended")) < len(types) - 2  # before the later call
    contact = contacts(events)[first]
    assert contact["talk_seconds"] == 60 and contact["warm_transfers"] == 1
    assert contact["wrapped_up_at"] == "2021-01-01T09:01:05.000Z"


def test_agent_login_pause_and_calls_become_agent_states(tmp_path: Path) -> None:
    agent = "Agent/3001"
    path = log(
        tmp_path,
        f"{T0}|NONE|NONE|{agent}|AGENTLOGIN|SIP/3001",
        f"{T0 + 60}|NONE|q1|{agent}|PAUSE|lunch",
        f"{T0 + 60}|NONE|q2|{agent}|PAUSE|lunch",
        f"{T0 + 600}|NONE|q1|{agent}|UNPAUSE|",
        f"{T0 + 700}|c.1|q1|NONE|ENTERQUEUE||0612345678|1",
        f"{T0 + 702}|c.1|q1|{agent}|CONNECT|2|x|1",
        f"{T0 + 712}|c.1|q1|{agent}|COMPLETEAGENT|2|10|1",
        f"{T0 + 900}|NONE|NONE|{agent}|AGENTLOGOFF|SIP/3001|900",
        f"{T0 + 950}|NONE|q3|SIP/4001|ADDMEMBER|",
        f"{T0 + 990}|NONE|q3|SIP/4001|REMOVEMEMBER|",
    )
    events, _ = imported("queue-log", path)
    states = [
        (e["agent_id"], e["occurred_at"][11:19], e["attributes"]["state"])
        for e in by_type(events)["agent.state_changed"]
    ]
    assert states == [
        (agent, "09:00:00", "available"),
        (agent, "09:01:00", "break"),  # once, though paused in two queues
        (agent, "09:10:00", "available"),
        (agent, "09:11:42", "busy"),
        (agent, "09:11:52", "available"),
        (agent, "09:15:00", "offline"),
        ("SIP/4001", "09:15:50", "available"),
        ("SIP/4001", "09:16:30", "offline"),
    ]


def test_the_database_table_form_in_local_time_gives_the_same_events(tmp_path: Path) -> None:
    text = log(
        tmp_path,
        f"{T0}|c.1|support|NONE|ENTERQUEUE||0612345678|1",
        f"{T0 + 2}|c.1|support|SIP/2001|CONNECT|2|x|1",
        f"{T0 + 14}|c.1|support|SIP/2001|COMPLETEAGENT|2|12|1",
        name="queue_log.txt",
    )
    table = log(
        tmp_path,
        "time;callid;queuename;agent;event;data1;data2;data3;data4;data5",
        "2021-01-01 10:00:00.000000;c.1;support;NONE;ENTERQUEUE;;0612345678;1;;",
        "2021-01-01 10:00:02.000000;c.1;support;SIP/2001;CONNECT;2;x;1;;",
        "2021-01-01 10:00:14.000000;c.1;support;SIP/2001;COMPLETEAGENT;2;12;1;;",
        name="queue_log.csv",
    )
    zone = tmp_path / "paris.toml"
    zone.write_text('time_zone = "Europe/Paris"\n')
    from_text = imported("queue-log", text)[0]
    from_table = imported("queue-log", table, mapping=zone)[0]
    assert from_table == from_text  # same ids too: the same call imported either way counts once


def test_unreadable_lines_are_rejected_with_file_line_and_reason_without_personal_data(
    tmp_path: Path,
) -> None:
    path = log(
        tmp_path,
        f"{T0}|c.1|support|NONE|ENTERQUEUE||0612345678|1",
        "not a queue_log line",
        "yesterday|c.1|support|NONE|ENTERQUEUE||0612345678|1",
        f"{T0 + 1}|c.1|support|NONE|FROBNICATE|0612345678",
        f"{T0 + 2}|c.1|support|SIP/2001|CONNECT|two seconds|x|1",
        f"{T0 + 3}|NONE|support|NONE|ABANDON|1|1|3",
        f"{T0 + 4}|c.1|support|NONE|RINGNOANSWER|1000",
    )
    events, rejections = imported("queue-log", path)
    found = [(r.line, r.reason, r.detail) for r in rejections]
    assert found == [
        (2, "not a queue_log line", "1 fields"),
        (3, "unreadable time", ""),
        (4, "unknown queue_log event", "FROBNICATE"),
        (5, "unreadable event data", "CONNECT"),
        (6, "call event without a call id", "ABANDON"),
    ]
    assert all(r.file == str(path) for r in rejections)
    assert not any("0612345678" in r.message for r in rejections)
    assert rejections[2].source.endswith("FROBNICATE|0612345678")  # for operators only
    assert [e["event_type"] for e in events] == ["contact.started", "contact.queued"]


def test_the_same_log_imported_twice_gives_the_same_ids(tmp_path: Path) -> None:
    path = log(
        tmp_path,
        f"{T0}|c.1|support|NONE|ENTERQUEUE||0612345678|1",
        f"{T0 + 2}|c.1|support|SIP/2001|CONNECT|2|x|1",
        f"{T0 + 14}|c.1|support|SIP/2001|COMPLETEAGENT|2|12|1",
    )
    first, second = imported("queue-log", path)[0], imported("queue-log", path)[0]
    assert first == second
    assert len({e["event_id"] for e in first}) == len(first)
    other_tenant = imported("queue-log", path, tenant="globex")[0]
    assert not {e["event_id"] for e in first} & {e["event_id"] for e in other_tenant}


def test_a_file_that_is_neither_form_is_refused_whole(tmp_path: Path) -> None:
    path = log(tmp_path, "when,who,what", "1,2,3")
    with pytest.raises(ImportFailed, match="missing columns: time, callid, queuename"):
        imported("queue-log", path)
