"""Sample exports of the cloud platforms for the end-to-end import test, and the KPIs computed
straight from them.

A working week (Monday 3 to Friday 7 March 2025) of Amazon Connect contact records (Kinesis
Firehose: one record a line; some delivered twice, first without their after-contact work;
transfers in two legs) and agent event stream records (pretty-printed and concatenated), and
the next week of Genesys Cloud conversation details (jobs API pages, one a line, the first page
fetched twice), each with a few records the importers must reject. The weeks follow each other
because the files are imported one after the other: the stream keeps a contact's state
``stream.contact_retention_days`` (3) behind the latest event time it saw, and an older contact
arriving after that is not folded (docs/streams.md, Retention). The expected KPIs are computed by
reading the written files with nothing but ``json``, independently of the importers.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.orchestration.import_samples import SHORT_ABANDON, Tally

FIRST = date(2025, 3, 3)  # a Monday
LAST = date(2025, 3, 14)  # the next week's Friday
CONNECT_DAYS = [FIRST + timedelta(days=n) for n in range(5)]
GENESYS_DAYS = [FIRST + timedelta(days=7 + n) for n in range(5)]
SERVICE_LEVEL = {"voice": 20, "chat": 60, "sms": 900, "email": 86400}
ARN = "arn:aws:connect:eu-west-1:123456789012:instance/0f1e2d3c-aaaa-4bbb-8ccc-123456789abc"
CONNECT_AGENTS = [f"agent{n:02d}" for n in range(5)]
GENESYS_AGENTS = [f"a9e00000-0000-4000-8000-0000000000{n:02d}" for n in range(10)]


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _opening(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 8, tzinfo=UTC)


# ---------------------------------------------------------------------------- Amazon Connect


def write_connect_ctr(path: Path, contacts_a_day: int = 120, seed: int = 31) -> int:
    """Contact records of ``contacts_a_day`` contacts each day; how many lines."""
    rng = random.Random(seed)
    lines: list[tuple[datetime, int, str]] = []

    def emit(record: dict[str, Any]) -> None:
        lines.append((_time(record["LastUpdateTimestamp"]), len(lines), json.dumps(record)))

    for day in CONNECT_DAYS:
        for n in range(contacts_a_day):
            start = _opening(day) + timedelta(seconds=rng.randrange(10 * 3600))
            contact = f"c0{day:%m%d}{n:04d}-0000-4000-8000-000000000000"
            channel = rng.choices(["VOICE", "CHAT", "EMAIL"], [70, 20, 10])[0]
            kind = rng.random()
            endpoint = (
                None
                if channel == "CHAT"
                else {"Address": f"+336{rng.randrange(10**8):08d}", "Type": "TELEPHONE_NUMBER"}
                if channel == "VOICE"
                else {
                    "Address": f"client{rng.randrange(10**6)}@example.com",
                    "Type": "EMAIL_ADDRESS",
                }
            )
            if kind < 0.05 and channel == "VOICE":
                emit(_leg(contact, channel, "OUTBOUND", start, endpoint, None, rng))
                continue
            if kind < 0.09 and channel == "VOICE":  # ended in the IVR
                record = _leg(contact, channel, "INBOUND", start, endpoint, None, None)
                record["DisconnectTimestamp"] = _iso(start + timedelta(seconds=40))
                record["LastUpdateTimestamp"] = _iso(start + timedelta(seconds=41))
                emit(record)
                continue
            queued = start + timedelta(seconds=rng.randrange(3, 30))
            wait = rng.randrange(60, 3600) if channel == "EMAIL" else rng.randrange(1, 90)
            if kind < 0.21:  # abandoned
                record = _leg(
                    contact, channel, "INBOUND", start, endpoint, ("Billing", queued), None
                )
                left = queued + timedelta(seconds=wait)
                record["Queue"].update(DequeueTimestamp=_iso(left), Duration=wait)
                record["DisconnectTimestamp"] = _iso(left)
                record["LastUpdateTimestamp"] = _iso(left + timedelta(seconds=1))
                emit(record)
                continue
            queue = rng.choice(["Billing", "Support"])
            first = _leg(contact, channel, "INBOUND", start, endpoint, (queue, queued), rng, wait)
            if kind < 0.31:  # transferred: a second leg in the Sales queue
                second_id = contact.replace("-0000-4000", "-0001-4000")
                moved = _time(first["DisconnectTimestamp"])
                second = _leg(
                    second_id, channel, "TRANSFER", moved, endpoint, ("Sales", moved), rng
                )
                first.update(InitialContactId=contact, NextContactId=second_id)
                second.update(InitialContactId=contact, PreviousContactId=contact)
                emit(second)
            if rng.random() < 0.15:  # delivered first without its ACW, then updated
                early = json.loads(json.dumps(first))
                for name in ("AfterContactWorkDuration", "AfterContactWorkStartTimestamp"):
                    early["Agent"].pop(name)
                early["LastUpdateTimestamp"] = early["DisconnectTimestamp"]
                emit(early)
                if rng.random() < 0.5:  # and the first version delivered again, late
                    late = dict(early)
                    late["LastUpdateTimestamp"] = early["LastUpdateTimestamp"]
                    lines.append((_time(first["LastUpdateTimestamp"]) + timedelta(minutes=30),
                                  len(lines), json.dumps(late)))  # fmt: skip
            emit(first)
    lines.sort()
    text = [line for _, _, line in lines]
    text.insert(len(text) // 3, text[5][:150])  # a record cut short
    text.insert(len(text) // 2, json.dumps({"ContactId": "c0-bad", "Channel": "VOICE"}))
    path.write_text("\n".join(text) + "\n")
    return len(text)


def _leg(
    contact: str,
    channel: str,
    method: str,
    start: datetime,
    endpoint: dict[str, str] | None,
    queue: tuple[str, datetime] | None,
    rng: random.Random | None,
    wait: int | None = None,
) -> dict[str, Any]:
    """One contact record; with ``rng``, an agent took it ``wait`` seconds after it queued."""
    record: dict[str, Any] = {
        "AWSAccountId": "123456789012",
        "AWSContactTraceRecordFormatVersion": "2017-03-10",
        "Agent": None,
        "Channel": channel,
        "ContactId": contact,
        "CustomerEndpoint": endpoint,
        "DisconnectReason": "CUSTOMER_DISCONNECT",
        "InitiationMethod": method,
        "InitiationTimestamp": _iso(start),
        "InstanceARN": ARN,
        "LastUpdateTimestamp": _iso(start),
        "Queue": None,
    }
    at = start
    if queue is not None:
        name, queued = queue
        record["Queue"] = {"ARN": f"{ARN}/queue/{name.lower()}", "Name": name,
                           "EnqueueTimestamp": _iso(queued)}  # fmt: skip
        at = queued
    if rng is not None:
        wait = wait if wait is not None else rng.randrange(1, 60) if queue else 0
        connected = at + timedelta(seconds=wait)
        talk, acw = rng.randrange(20, 600), rng.randrange(0, 60)
        hold = rng.randrange(5, 90) if rng.random() < 0.3 else 0
        end = connected + timedelta(seconds=talk + hold)
        if record["Queue"]:
            record["Queue"].update(DequeueTimestamp=_iso(connected), Duration=wait)
        record["Agent"] = {
            "ARN": f"{ARN}/agent/{rng.randrange(100)}",
            "Username": rng.choice(CONNECT_AGENTS),
            "ConnectedToAgentTimestamp": _iso(connected),
            "AgentInteractionDuration": talk,
            "CustomerHoldDuration": hold,
            "NumberOfHolds": 1 if hold else 0,
            "AfterContactWorkDuration": acw,
            "AfterContactWorkStartTimestamp": _iso(end),
        }
        record["DisconnectTimestamp"] = _iso(end)
        record["LastUpdateTimestamp"] = _iso(end + timedelta(seconds=acw + 1))
    return record


def connect_kpis(path: Path) -> dict[str, float]:
    """The contact KPIs of a contact-record file: the latest record of each ContactId; a
    contact is the legs sharing an InitialContactId; its wait runs from its first enqueue to
    its first agent; its handle time is the legs' talk + hold + ACW; queued and never connected
    is an abandon (short under 5 s in queue); OUTBOUND contacts are left out."""
    latest: dict[str, dict[str, Any]] = {}
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
            stamp = record["LastUpdateTimestamp"]
        except (ValueError, KeyError):
            continue  # the lines the importer rejects
        known = latest.get(record["ContactId"])
        if known is None or stamp > known["LastUpdateTimestamp"]:
            latest[record["ContactId"]] = record
    contacts: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in latest.values():
        contacts[record.get("InitialContactId") or record["ContactId"]].append(record)
    tally = Tally()
    for legs in contacts.values():
        legs.sort(key=lambda leg: leg["InitiationTimestamp"])
        if legs[0]["InitiationMethod"] == "OUTBOUND":
            continue
        queued = [leg for leg in legs if leg["Queue"]]
        connected = [leg for leg in legs if leg["Agent"]]
        if not queued:
            continue
        first_queued = _time(queued[0]["Queue"]["EnqueueTimestamp"])
        if connected:
            tally.offered += 1
            answered = _time(connected[0]["Agent"]["ConnectedToAgentTimestamp"])
            channel = legs[0]["Channel"].lower()
            tally.answer((answered - first_queued).total_seconds(), SERVICE_LEVEL[channel])
            tally.handled += 1
            tally.handle_sum += sum(
                leg["Agent"]["AgentInteractionDuration"]
                + leg["Agent"]["CustomerHoldDuration"]
                + leg["Agent"]["AfterContactWorkDuration"]
                for leg in connected
            )
            continue
        left = _time(queued[-1]["Queue"]["DequeueTimestamp"])
        if (left - first_queued).total_seconds() >= SHORT_ABANDON:
            tally.offered += 1
            tally.abandoned += 1
    return tally.kpis()


def write_connect_agent_events(path: Path, seed: int = 32) -> int:
    """Agent event stream records of the Connect agents' days (pretty-printed, concatenated:
    Firehose without a delimiter); how many records."""
    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    for day in CONNECT_DAYS:
        for agent in CONNECT_AGENTS:
            at = _opening(day) + timedelta(seconds=rng.randrange(600))
            previous: dict[str, Any] | None = None

            def change(kind: str, status: str, state: str | None, seconds: int) -> None:
                nonlocal at, previous
                snapshot = {
                    "AgentStatus": {"Name": status, "Type": _STATUS_TYPES[status]},
                    "Configuration": {"Username": agent},  # noqa: B023
                    "Contacts": [{"ContactId": "c", "State": state}] if state else [],
                }
                records.append({
                    "AgentARN": f"{ARN}/agent/{agent}-id",  # noqa: B023
                    "CurrentAgentSnapshot": snapshot,
                    "EventId": f"{agent}-{len(records)}",  # noqa: B023
                    "EventTimestamp": _iso(at),
                    "EventType": kind,
                    "PreviousAgentSnapshot": previous,
                })  # fmt: skip
                previous = snapshot
                at += timedelta(seconds=seconds)

            change("LOGIN", "Available", None, rng.randrange(10, 300))
            while at.hour < 17:
                change("STATE_CHANGE", "Available", "CONNECTING", 2)
                change("STATE_CHANGE", "Available", "CONNECTED", rng.randrange(30, 400))
                change("HEART_BEAT", "Available", "CONNECTED", rng.randrange(1, 60))
                change("STATE_CHANGE", "Available", "ENDED", rng.randrange(5, 60))
                change("STATE_CHANGE", "Available", None, rng.randrange(10, 600))
                if rng.random() < 0.1:
                    change("STATE_CHANGE", "Break", None, rng.randrange(300, 900))
            change("LOGOUT", "Offline", None, 0)
    records.insert(7, {"EventType": "STATE_CHANGE", "EventTimestamp": "yesterday"})
    path.write_text("".join(json.dumps(record, indent=1) for record in records))
    return len(records)


_STATUS_TYPES = {"Available": "ROUTABLE", "Break": "CUSTOM", "Offline": "OFFLINE"}


def connect_occupancy(path: Path) -> float:
    """occupancy.v1 of the agent events: each state lasts until the agent's next event with a
    state (HEART_BEAT has none) or the end of its day; busy = a connected contact, ACW = an
    ended one, available = a routable status with no contact."""
    decoder = json.JSONDecoder()
    text, position = path.read_text(), 0
    changes: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    while position < len(text):
        record, position = decoder.raw_decode(text, position)
        if record["EventType"] == "HEART_BEAT" or "CurrentAgentSnapshot" not in record:
            continue
        snapshot = record["CurrentAgentSnapshot"]
        contact_states = {contact["State"] for contact in snapshot["Contacts"]}
        state = (
            "offline"
            if record["EventType"] == "LOGOUT"
            else "busy"
            if "CONNECTED" in contact_states
            else "acw"
            if "ENDED" in contact_states
            else {"ROUTABLE": "available", "CUSTOM": "break"}[snapshot["AgentStatus"]["Type"]]
        )
        agent = snapshot["Configuration"]["Username"]
        changes[agent].append((_time(record["EventTimestamp"]), state))
    seconds: dict[str, float] = defaultdict(float)
    for timeline in changes.values():
        timeline.sort()
        for (at, state), (next_at, _) in zip(timeline, [*timeline[1:], (None, None)], strict=True):
            midnight = datetime(at.year, at.month, at.day, tzinfo=UTC) + timedelta(days=1)
            end = min(next_at or midnight, midnight)
            seconds[state] += (end - at).total_seconds()
    worked = seconds["busy"] + seconds["acw"]
    return worked / (worked + seconds["available"])


# ---------------------------------------------------------------------------- Genesys Cloud


def write_genesys(path: Path, conversations_a_day: int = 100, seed: int = 33) -> int:
    """Conversation details in jobs API pages of 100 conversations, one page a line, the first
    page twice; how many conversations (repeats included)."""
    rng = random.Random(seed)
    conversations = []
    for day in GENESYS_DAYS:
        for n in range(conversations_a_day):
            conversations.append(_conversation(f"c1{day:%m%d}{n:04d}-0000-4000-8000-0000000000c0",
                                               _opening(day) + timedelta(seconds=rng.randrange(36000)),
                                               rng))  # fmt: skip
    conversations[10].pop("conversationEnd")  # still in progress: rejected
    pages = [conversations[n : n + 100] for n in range(0, len(conversations), 100)]
    pages.append(pages[0])
    path.write_text(
        "".join(
            json.dumps({"conversations": page, "cursor": f"p{n}"}) + "\n"
            for n, page in enumerate(pages)
        )
    )
    return sum(len(page) for page in pages)


def _conversation(conversation_id: str, start: datetime, rng: random.Random) -> dict[str, Any]:
    media = rng.choices(["voice", "message", "email"], [75, 15, 10])[0]
    kind = rng.random()

    def seg(kind: str, begin: datetime, end: datetime, **more: Any) -> dict[str, Any]:
        return {"segmentStart": _iso(begin), "segmentEnd": _iso(end), "segmentType": kind, **more}

    def session(segments: list, metrics: dict[str, int], sid: str) -> dict[str, Any]:
        out = {"sessionId": sid, "mediaType": media, "segments": segments,
               "metrics": [{"name": k, "value": v, "emitDate": segments[-1]["segmentEnd"]}
                           for k, v in metrics.items()]}  # fmt: skip
        if media == "message":
            out["messageType"] = "sms"
        return out

    phone = f"+336{rng.randrange(10**8):08d}"
    customer_session = session([seg("interact", start, start)], {}, "cust")
    if media == "voice":
        customer_session["ani"] = f"tel:{phone}"
    else:
        customer_session["addressFrom"] = (
            phone if media == "message" else f"client{rng.randrange(10**6)}@example.com"
        )
    participants = [{"purpose": "customer", "participantId": "pc", "sessions": [customer_session]}]
    end = start
    queued = start + timedelta(seconds=rng.randrange(5, 30))
    wait = rng.randrange(1, 120)
    answered = queued + timedelta(seconds=wait)
    if kind < 0.05 and media == "voice":  # ended in the IVR
        end = start + timedelta(seconds=40)
        participants.append({"purpose": "ivr", "participantId": "pi",
                             "sessions": [session([seg("ivr", start, end)], {}, "ivr")]})  # fmt: skip
    elif kind < 0.17:  # abandoned
        end = queued + timedelta(seconds=wait)
        participants.append({"purpose": "acd", "participantId": "pa", "participantName": "Billing",
                             "sessions": [session([seg("interact", queued, end)],
                                                  {"tAbandon": wait * 1000}, "acd")]})  # fmt: skip
    else:
        participants.append({"purpose": "acd", "participantId": "pa", "participantName": "Support",
                             "sessions": [session([seg("interact", queued, answered)],
                                                  {"tAcd": wait * 1000}, "acd")]})  # fmt: skip
        if kind < 0.32 and wait > 8:  # a first agent alerted who did not respond
            silent = rng.choice(GENESYS_AGENTS)
            alert = seg("alert", queued + timedelta(seconds=1), queued + timedelta(seconds=7))
            participants.append({"purpose": "agent", "participantId": "ps", "userId": silent,
                                 "sessions": [session([alert], {"tNotResponding": 6000}, "s0")]})  # fmt: skip
        at = answered
        for handler in range(2 if kind > 0.88 else 1):
            talk_ms = rng.randrange(20_000, 600_000)
            held_ms = rng.randrange(5_000, 60_000) if rng.random() < 0.3 else 0
            acw_ms = rng.randrange(0, 60_000)
            talk_end = at + timedelta(milliseconds=talk_ms)
            segments = [seg("interact", at, talk_end)]
            if held_ms:
                segments.append(seg("hold", talk_end, talk_end + timedelta(milliseconds=held_ms)))
            done = talk_end + timedelta(milliseconds=held_ms)
            segments.append(seg("wrapup", done, done + timedelta(milliseconds=acw_ms),
                                wrapUpCode="7c0de000-0000-4000-8000-00000000c0d1"))  # fmt: skip
            metrics = {"tAnswered": 1, "tTalk": talk_ms, "tAcw": acw_ms,
                       "tHandle": talk_ms + held_ms + acw_ms}  # fmt: skip
            if held_ms:
                metrics["tHeld"] = held_ms
            if handler == 0 and kind > 0.88:
                metrics["nBlindTransferred"] = 1
            participants.append({"purpose": "agent", "participantId": f"p{handler}",
                                 "userId": rng.choice(GENESYS_AGENTS),
                                 "sessions": [session(segments, metrics, f"s{handler + 1}")]})  # fmt: skip
            end = done + timedelta(milliseconds=acw_ms)
            at = done + timedelta(seconds=rng.randrange(5, 30))
    return {"conversationId": conversation_id, "conversationStart": _iso(start),
            "conversationEnd": _iso(max(end, start)), "originatingDirection": "inbound",
            "participants": participants}  # fmt: skip


def genesys_kpis(path: Path) -> dict[str, float]:
    """The contact KPIs of conversation-detail pages: each conversation once; its wait runs from
    its first acd segment to its first answering agent's interact; an agent session with
    tNotResponding counts for nothing; handle = the answering sessions' tTalk + tHeld + tAcw;
    tAbandon under 5 s is a short abandon; a conversation without conversationEnd is left out
    (the importer rejects it)."""
    conversations: dict[str, dict[str, Any]] = {}
    for line in path.read_text().splitlines():
        for conversation in json.loads(line)["conversations"]:
            if "conversationEnd" in conversation:
                conversations[conversation["conversationId"]] = conversation
    tally = Tally()
    for conversation in conversations.values():
        sessions = [
            (participant["purpose"], session)
            for participant in conversation["participants"]
            for session in participant["sessions"]
        ]
        metrics = [
            (purpose, {m["name"]: m["value"] for m in session["metrics"]}, session)
            for purpose, session in sessions
        ]
        acd = [(m, s) for purpose, m, s in metrics if purpose == "acd"]
        handlers = [
            (m, s) for purpose, m, s in metrics if purpose == "agent" and "tNotResponding" not in m
        ]
        if not acd:
            continue
        queued = _time(acd[0][1]["segments"][0]["segmentStart"])
        media = acd[0][1]["mediaType"]
        channel = "sms" if media == "message" else media
        if handlers:
            tally.offered += 1
            answered = min(_time(s["segments"][0]["segmentStart"]) for _, s in handlers)
            tally.answer((answered - queued).total_seconds(), SERVICE_LEVEL[channel])
            tally.handled += 1
            tally.handle_sum += (
                sum(m["tTalk"] + m.get("tHeld", 0) + m["tAcw"] for m, _ in handlers) / 1000
            )
        elif acd[0][0]["tAbandon"] >= SHORT_ABANDON * 1000:
            tally.offered += 1
            tally.abandoned += 1
    return tally.kpis()
