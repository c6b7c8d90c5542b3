"""Genesys Cloud: analytics conversation details as contract events.

Input: the JSON of ``POST /api/v2/analytics/conversations/details/query`` (``{"conversations":
[...], "totalHits": n}``) or the pages of its jobs API (``GET .../details/jobs/{id}/results``:
``{"conversations": [...], "cursor": ...}``), saved one page per file, pages one per line, or a
bare list / one conversation per line (``pipelines.importers.json_values``). One conversation is
one record and one contract contact (``contact_id`` = ``conversationId``); the record's line is
where its page starts. Memory holds one page.

A conversation has participants (``purpose`` customer/external, ivr, acd, agent/user ...), each
with sessions (one per media), each with segments (alert, interact, hold, wrapup ... with
``queueId``, ``wrapUpCode``, ``disconnectType``) and metrics (``name``, ``value`` in ms). The
conversion, detailed in docs/importers.md ("Genesys Cloud"):

- an acd session is a queue visit: ``contact.queued`` at its start; ``tAbandon`` on it and no
  agent answering make the contact abandoned there;
- an agent session is a **handler** when it was answered (``tAnswered``, ``tTalk`` or an interact
  segment) and has no ``tNotResponding``: an agent alerted who did not answer is not the handler
  and none of that session's metrics count;
- durations come from the handlers' metrics: talk = Σ ``tTalk``, ACW = Σ ``tAcw``; holds are the
  hold segments. ``contact.ended`` is placed at the first answer + talk + hold and
  ``contact.wrapped_up`` after it by the ACW, so the contract's handle time equals Genesys'
  ``tHandle`` summed over the handlers;
- a second handler is a transfer (warm with ``nConsultTransferred`` on the session before, cold
  with ``nBlindTransferred``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.importers.cloud_records import (
    BadRecord,
    ContactEvents,
    field_time,
    readable,
    required_text,
    required_time,
)
from pipelines.importers.framework import Rejection, SourceRecord, contact_id
from pipelines.importers.json_values import read_json_records

GENESYS_IMPORTER = "genesys"

_MEDIA_CHANNELS = {"voice": "voice", "callback": "voice", "chat": "chat", "email": "email"}
# mediaType "message" says which messaging platform in messageType.
_MESSAGE_CHANNELS = {"sms": "sms", "webmessaging": "chat", "open": "chat"}
_CUSTOMER_PURPOSES = frozenset({"customer", "external"})
_AGENT_PURPOSES = frozenset({"agent", "user"})
# The customer identifier a channel's address is, and where the customer's address is.
_ADDRESS_KINDS = {"voice": "phone", "sms": "phone", "email": "email", "social": "social_handle"}


def expand_page(value: Any) -> Iterable[Any]:
    """The conversations of one top-level JSON value of a file."""
    if isinstance(value, Mapping) and "conversations" in value:
        conversations = value["conversations"]
        return conversations if isinstance(conversations, list) else [conversations]
    if isinstance(value, list):
        return value
    return (value,)


class GenesysImporter:
    """Analytics conversation details → contact events."""

    name = GENESYS_IMPORTER

    def read(self, paths: Sequence[Path]) -> Iterator[SourceRecord]:
        return read_json_records(paths, expand_page)

    def convert(
        self, records: Iterable[SourceRecord], tenant: str
    ) -> Iterator[dict[str, Any] | Rejection]:
        for record in records:
            try:
                events = conversation_events(readable(record), tenant)
            except BadRecord as error:
                yield error.rejection(record, "conversationStart")
                continue
            yield from events


@dataclass
class _Session:
    """One session of a participant: its segments and its metrics summed by name."""

    purpose: str
    participant: Mapping[str, Any]
    data: Mapping[str, Any]
    channel: str | None
    segments: list[tuple[int, int | None, Mapping[str, Any]]]  # (start ms, end ms, segment)
    metrics: dict[str, int] = field(default_factory=dict)
    metric_dates: dict[str, int] = field(default_factory=dict)  # first emitDate per name

    def segments_of(self, kind: str) -> list[tuple[int, int | None, Mapping[str, Any]]]:
        return [item for item in self.segments if item[2].get("segmentType") == kind]

    @property
    def start_ms(self) -> int | None:
        return self.segments[0][0] if self.segments else None

    @property
    def end_ms(self) -> int | None:
        ends = [end for _, end, _ in self.segments if end is not None]
        return max(ends) if ends else None

    @property
    def is_handler(self) -> bool:
        if "tNotResponding" in self.metrics:
            return False
        return (
            "tAnswered" in self.metrics
            or self.metrics.get("tTalk", 0) > 0
            or bool(self.segments_of("interact"))
        )

    @property
    def answered_ms(self) -> int | None:
        interacts = self.segments_of("interact")
        if interacts:
            return interacts[0][0]
        return self.metric_dates.get("tAnswered", self.start_ms)


def conversation_events(data: Mapping[str, Any], tenant: str) -> list[dict[str, Any]]:
    """The contract events of one conversation, in time order."""
    conversation_id = contact_id(GENESYS_IMPORTER, tenant, required_text(data, "conversationId"))
    started_ms = required_time(data, "conversationStart")
    ended_ms = field_time(data, "conversationEnd")
    if ended_ms is None:
        raise BadRecord(
            "a conversation still in progress", "no conversationEnd: import it once it has ended"
        )
    participants = data.get("participants")
    if not isinstance(participants, list) or not participants:
        raise BadRecord("a required field is missing", "participants")
    sessions = [session for item in participants for session in _sessions(item)]
    channel = _channel(sessions)
    direction = data.get("originatingDirection") or "inbound"
    if direction not in ("inbound", "outbound"):
        raise BadRecord("an unknown originatingDirection", str(direction)[:32])
    builder = ContactEvents(GENESYS_IMPORTER, tenant, conversation_id, channel)
    customer_sessions = [s for s in sessions if s.purpose in _CUSTOMER_PURPOSES]
    builder.add(
        "contact.started",
        started_ms,
        conversation_id,
        direction=direction,
        customer=_customer(customer_sessions, channel, direction),
    )
    in_channel = [s for s in sessions if s.channel == channel and s.segments]
    visits = sorted(
        (s for s in in_channel if s.purpose == "acd" and s.start_ms is not None),
        key=lambda s: (s.start_ms, str(s.data.get("sessionId"))),
    )
    for index, visit in enumerate(visits):
        queue = str(visit.participant.get("participantName") or _queue_id(visit) or "")
        if queue:
            identity = f"{conversation_id}/acd:{index}"
            builder.add("contact.queued", visit.start_ms, identity, queue=queue)
    handlers = sorted(
        (s for s in in_channel if s.purpose in _AGENT_PURPOSES and s.is_handler),
        key=lambda s: (s.answered_ms or 0, str(s.data.get("sessionId"))),
    )
    ended_by = _ended_by(customer_sessions, handlers)
    if handlers:
        _handled(builder, handlers, ended_by)
        last_visit = visits[-1] if visits else None
        last_answer = max(h.answered_ms or 0 for h in handlers)
        if last_visit and "tAbandon" in last_visit.metrics and last_visit.start_ms > last_answer:
            # Answered, transferred to a queue and given up there: answered and abandoned.
            builder.add("contact.abandoned", last_visit.end_ms or ended_ms, conversation_id)
        return builder.in_time_order()
    builder.add("contact.ended", ended_ms, conversation_id, attributes={"ended_by": ended_by})
    abandons = [visit for visit in visits if "tAbandon" in visit.metrics]
    if abandons or (visits and not any("tFlowOut" in visit.metrics for visit in visits)):
        # Queued and never answered; a visit that flowed out (to voicemail, another number)
        # without tAbandon is no abandon: the contact then ends unclosed (incomplete).
        visit = (abandons or visits)[-1]
        builder.add("contact.abandoned", visit.end_ms or ended_ms, conversation_id)
    elif not visits and direction == "inbound":
        builder.add(
            "contact.deflected", ended_ms, conversation_id, attributes={"cause": "self_service"}
        )
    return builder.in_time_order()


def _handled(builder: ContactEvents, handlers: list[_Session], ended_by: str) -> None:
    """The events of a conversation some agent answered."""
    conversation_id = builder.contact_id
    talk_ms = hold_ms = acw_ms = 0
    first_answer: int | None = None
    for index, session in enumerate(handlers):
        identity = f"{conversation_id}/session:{session.data.get('sessionId') or index}"
        answered_ms = session.answered_ms
        if answered_ms is None:
            continue
        if index:
            mode = _transfer_mode(handlers[index - 1].metrics)
            builder.add(
                "contact.transferred",
                session.start_ms or answered_ms,
                identity,
                attributes={"to_agent_id": _agent(session), "mode": mode},
            )
        builder.add("contact.answered", answered_ms, identity, agent_id=_agent(session))
        first_answer = answered_ms if first_answer is None else first_answer
        session_talk = session.metrics.get("tTalk")
        if session_talk is None:  # no metric: the interact segments
            session_talk = sum(
                (end or start) - start for start, end, _ in session.segments_of("interact")
            )
        talk_ms += session_talk
        holds = [(start, end) for start, end, _ in session.segments_of("hold") if end is not None]
        if not holds and session.metrics.get("tHeld"):
            # Held with no hold segment in the record: one span at the end of the talk.
            hold_from = answered_ms + session_talk
            holds = [(hold_from, hold_from + session.metrics["tHeld"])]
        for ordinal, (start, end) in enumerate(holds):
            builder.add("contact.hold_started", start, identity, ordinal)
            builder.add("contact.hold_ended", end, identity, ordinal)
            hold_ms += end - start
        wrapups = session.segments_of("wrapup")
        acw_ms += session.metrics.get(
            "tAcw", sum((end or start) - start for start, end, _ in wrapups)
        )
    if first_answer is None:
        return
    ended_ms = first_answer + talk_ms + hold_ms
    builder.add("contact.ended", ended_ms, conversation_id, attributes={"ended_by": ended_by})
    last = handlers[-1]
    wrapups = last.segments_of("wrapup")
    if wrapups or "tAcw" in last.metrics:
        code = next(
            (str(s["wrapUpCode"]) for _, _, s in reversed(wrapups) if s.get("wrapUpCode")), None
        )
        builder.add(
            "contact.wrapped_up",
            ended_ms + acw_ms,
            conversation_id,
            attributes={"reason": code, "wrap_up_code": code},
        )


def _transfer_mode(metrics: Mapping[str, int]) -> str | None:
    """How the session before a handler transferred: a consult transfer is warm, a blind one
    cold; neither metric, unknown."""
    if metrics.get("nConsultTransferred"):
        return "warm"
    if metrics.get("nBlindTransferred"):
        return "cold"
    return None


def _sessions(participant: Any) -> Iterator[_Session]:
    if not isinstance(participant, Mapping):
        raise BadRecord("a field of the wrong type", "a participant is not an object")
    purpose = str(participant.get("purpose") or "")
    for data in participant.get("sessions") or []:
        if not isinstance(data, Mapping):
            raise BadRecord("a field of the wrong type", "a session is not an object")
        segments = []
        for segment in data.get("segments") or []:
            if not isinstance(segment, Mapping):
                raise BadRecord("a field of the wrong type", "a segment is not an object")
            start = required_time(segment, "segmentStart")
            segments.append((start, field_time(segment, "segmentEnd"), segment))
        segments.sort(key=lambda item: item[0])
        session = _Session(purpose, participant, data, _session_channel(data), segments)
        for metric in data.get("metrics") or []:
            if not isinstance(metric, Mapping) or not isinstance(metric.get("name"), str):
                raise BadRecord("a field of the wrong type", "a metric without a name")
            value = metric.get("value")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise BadRecord("a field of the wrong type", f"metric {metric['name'][:32]}")
            name = metric["name"]
            session.metrics[name] = session.metrics.get(name, 0) + round(value)
            emitted = field_time(metric, "emitDate")
            if emitted is not None:
                session.metric_dates.setdefault(name, emitted)
        yield session


def _session_channel(session: Mapping[str, Any]) -> str | None:
    media = session.get("mediaType")
    if media == "message":
        message_type = str(session.get("messageType") or "")
        return _MESSAGE_CHANNELS.get(message_type, "social" if message_type else "chat")
    return _MEDIA_CHANNELS.get(str(media))  # video, cobrowse, screenshare: no contract channel


def _channel(sessions: list[_Session]) -> str:
    """The contact's channel: its customer's first media with a contract channel."""
    ordered = [s for s in sessions if s.purpose in _CUSTOMER_PURPOSES] + sessions
    for session in ordered:
        if session.channel is not None:
            return session.channel
    media = sorted({str(s.data.get("mediaType")) for s in sessions})
    raise BadRecord("no media type with a channel in the contract", ", ".join(media)[:100])


def _customer(sessions: list[_Session], channel: str, direction: str) -> dict[str, str]:
    """The customer identifiers (raw: the stream normalises and hashes them)."""
    customer: dict[str, str] = {}
    kind = _ADDRESS_KINDS.get(channel)
    for session in sessions:
        contact = session.participant.get("externalContactId")
        if isinstance(contact, str) and contact:
            customer.setdefault("customer_id", contact)
        if kind is None or session.channel != channel:
            continue
        if channel == "voice":
            address = session.data.get("ani" if direction == "inbound" else "dnis")
        else:
            address = session.data.get("addressFrom" if direction == "inbound" else "addressTo")
        if isinstance(address, str) and address:
            customer.setdefault(kind, _strip_scheme(address))
    return customer or {_ADDRESS_KINDS.get(channel, "chat_visitor_id"): "anonymous"}


def _strip_scheme(address: str) -> str:
    """``tel:+15551230000`` and ``sip:+15551230000@host`` are the number itself."""
    for scheme in ("tel:", "sip:", "sips:"):
        if address.startswith(scheme):
            return address[len(scheme) :].split("@", 1)[0].split(";", 1)[0]
    return address


def _ended_by(customer_sessions: list[_Session], handlers: list[_Session]) -> str:
    """Who hung up: the side whose last segment ended with its own disconnect."""
    for sessions, side in ((customer_sessions, "customer"), (handlers[-1:], "agent")):
        for session in sessions:
            if session.segments and session.segments[-1][2].get("disconnectType") in (
                "endpoint",
                "client",
            ):
                return side
    return "system"


def _agent(session: _Session) -> str:
    user = session.participant.get("userId") or session.participant.get("participantId")
    if not isinstance(user, str) or not user:
        raise BadRecord("a required field is missing", "userId of an agent participant")
    return user


def _queue_id(session: _Session) -> str | None:
    return next((str(s["queueId"]) for _, _, s in session.segments if s.get("queueId")), None)
