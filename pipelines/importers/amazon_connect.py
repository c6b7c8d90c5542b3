"""Amazon Connect: contact records (CTR) and agent event stream records as contract events.

Both arrive as JSON from Kinesis (Data Streams or Firehose files): one record per line or records
concatenated (``pipelines.importers.json_values``). docs/importers.md ("Amazon Connect") has the
field mapping; the decisions that shape the code:

- **Latest record wins.** Connect delivers a contact record at least once and again when it is
  updated: of the records of one ``ContactId`` the one with the latest ``LastUpdateTimestamp``
  is converted (the first one read on a tie).
- **A transfer is one contact.** Each leg of a transferred contact is a record of its own
  (``InitiationMethod`` TRANSFER or QUEUE_TRANSFER, ``PreviousContactId`` naming the leg before);
  the legs fold into one contract contact, identified by the first leg's ``ContactId`` (its
  ``InitialContactId``). A CALLBACK leg continues the contact it was requested in the same way
  (without being a transfer): the customer who chose to be called back did not abandon, and is
  answered when the agent reaches them. An API contact is a contact of its own.
- **Not every record is a customer's contact.** A supervisor's MONITOR leg, a flow run on
  DISCONNECT and a TASK (no channel in the contract: the agents' time on tasks counts through
  the agent event stream) are read and not converted, like the agent stream's HEART_BEAT.
- **Durations as Connect counts them.** Connect gives talk (``AgentInteractionDuration``), hold
  (``CustomerHoldDuration``, without the times of the holds) and ACW (``AfterContactWorkDuration``)
  per leg. ``contact.ended`` is placed at the first answer + the legs' summed talk and hold, and
  ``contact.wrapped_up`` after that by their summed ACW, so the contract's talk, hold, ACW and
  handle time equal Connect's; the real disconnect time stays in ``attributes.disconnected_at``.
  Each leg's hold is one span ending where its agent interaction ends.
- **Outcomes from contact attributes.** Connect records no disposition; the contact attributes
  ``disposition`` or ``resolved`` (any case) of the last leg naming one give it.
- **Buffering.** Legs are held per ``InitialContactId`` until the latest ``LastUpdateTimestamp``
  read is ``settle_seconds`` past the group's own, then converted: memory holds the contacts
  updated within that window, whatever the file size.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.importers.cloud_records import (
    BadRecord,
    ContactEvents,
    field_number,
    field_object,
    field_text,
    field_time,
    readable,
    required_text,
    required_time,
)
from pipelines.importers.framework import Rejection, SourceRecord, contact_id, envelope
from pipelines.importers.json_values import read_json_records
from schemas.times import format_utc
from schemas.validation import schema_documents

CTR_IMPORTER = "amazon-connect-ctr"
AGENT_EVENTS_IMPORTER = "amazon-connect-agent-events"
SETTLE_SECONDS = 6 * 3600

_TRANSFER_METHODS = frozenset({"TRANSFER", "QUEUE_TRANSFER"})
# Legs that continue the contact named by their PreviousContactId.
_CONTINUING_METHODS = _TRANSFER_METHODS | {"CALLBACK"}
# Records of no customer's contact: read, not converted (see above).
_NOT_CONTACT_METHODS = frozenset({"MONITOR", "DISCONNECT"})
_NOT_CONTACT_CHANNELS = frozenset({"TASK"})
_OUTBOUND_METHODS = frozenset({"OUTBOUND", "AGENT_REPLY", "EXTERNAL_OUTBOUND", "CAMPAIGN"})
_CHANNELS = {"VOICE": "voice", "CHAT": "chat", "EMAIL": "email"}
# Chat contacts of the messaging integrations carry their subtype in SegmentAttributes.
_CHAT_SUBTYPES = {
    "connect:SMS": "sms",
    "connect:WhatsApp": "social",
    "connect:Apple": "social",
    "connect:Facebook": "social",
}
_ENDED_BY = {"CUSTOMER_DISCONNECT": "customer", "AGENT_DISCONNECT": "agent"}
_ENDPOINT_KINDS = {"TELEPHONE_NUMBER": "phone", "EMAIL_ADDRESS": "email"}
# Contact attributes (``Attributes``, set by a contact flow or the agent's workspace) naming the
# outcome: Connect has no wrap-up outcome field of its own (docs/importers.md, Amazon Connect).
_DISPOSITION_ATTRIBUTE = "disposition"  # one of the contract's dispositions
_RESOLVED_ATTRIBUTE = "resolved"  # yes / no
_YES = ("true", "yes", "y", "1")
_NO = ("false", "no", "n", "0")
# The identifier kind an unidentified customer is reported with ("anonymous" never links).
_ANONYMOUS_KIND = {"voice": "phone", "sms": "phone", "email": "email", "social": "social_handle"}


@dataclass(frozen=True, slots=True)
class Leg:
    """The fields of one contact record (one leg of a contact) the conversion uses; times in
    epoch milliseconds, durations in milliseconds."""

    contact_id: str
    initial_id: str | None
    previous_id: str | None
    method: str
    channel: str
    direction: str
    customer: dict[str, str]
    updated_ms: int
    initiated_ms: int
    disconnected_ms: int | None
    disconnect_reason: str | None
    queue: str | None
    enqueued_ms: int | None
    dequeued_ms: int | None
    agent: str | None
    connected_ms: int | None
    talk_ms: int | None
    hold_ms: int
    holds: int
    acw_ms: int | None
    disposition: str | None = None

    @property
    def is_transfer(self) -> bool:
        return self.method in _TRANSFER_METHODS

    @property
    def continues(self) -> bool:
        """Whether the leg continues an earlier leg's contact (a transfer or a callback)."""
        return self.method in _CONTINUING_METHODS and self.previous_id is not None


def parse_leg(record: SourceRecord) -> Leg | None:
    """The leg of a contact record, None for a record of no customer's contact; BadRecord when
    it lacks what a contact needs."""
    data = readable(record)
    source_id = required_text(data, "ContactId")
    method = field_text(data, "InitiationMethod") or "INBOUND"
    raw_channel = required_text(data, "Channel")
    if method in _NOT_CONTACT_METHODS or raw_channel in _NOT_CONTACT_CHANNELS:
        return None
    channel = _CHANNELS.get(raw_channel)
    if channel is None:
        raise BadRecord("an unknown Channel", raw_channel[:32])
    if channel == "chat":
        channel = _CHAT_SUBTYPES.get(_subtype(data), channel)
    outbound = method in _OUTBOUND_METHODS or (method == "API" and channel == "voice")
    queue = field_object(data, "Queue")
    agent = field_object(data, "Agent")
    connected_ms = field_time(agent, "ConnectedToAgentTimestamp")
    return Leg(
        contact_id=source_id,
        initial_id=field_text(data, "InitialContactId"),
        previous_id=field_text(data, "PreviousContactId"),
        method=method,
        channel=channel,
        direction="outbound" if outbound else "inbound",
        customer=_customer(data, channel),
        updated_ms=required_time(data, "LastUpdateTimestamp"),
        initiated_ms=required_time(data, "InitiationTimestamp"),
        disconnected_ms=field_time(data, "DisconnectTimestamp"),
        disconnect_reason=field_text(data, "DisconnectReason"),
        queue=(field_text(queue, "Name") or _arn_tail(field_text(queue, "ARN"))) if queue else None,
        enqueued_ms=field_time(queue, "EnqueueTimestamp"),
        dequeued_ms=field_time(queue, "DequeueTimestamp"),
        agent=(field_text(agent, "Username") or _arn_tail(field_text(agent, "ARN")))
        if agent
        else None,
        connected_ms=connected_ms,
        talk_ms=_seconds(agent, "AgentInteractionDuration"),
        hold_ms=_seconds(agent, "CustomerHoldDuration") or 0,
        holds=int(field_number(agent, "NumberOfHolds") or 0),
        acw_ms=_seconds(agent, "AfterContactWorkDuration"),
        disposition=_disposition(field_object(data, "Attributes")),
    )


def _disposition(attributes: Mapping[str, Any]) -> str | None:
    """The contract disposition of a leg's contact attributes (names case-insensitive):
    ``disposition`` (resolved, unresolved, escalated, follow_up), else ``resolved`` (yes/no:
    resolved/unresolved); None without either. BadRecord for a value it cannot read."""
    named = {str(name).lower(): name for name in attributes}
    if _DISPOSITION_ATTRIBUTE in named:
        text = field_text(attributes, named[_DISPOSITION_ATTRIBUTE])
        value = text.strip().lower().replace("-", "_").replace(" ", "_") if text else None
        if value is not None and value not in _dispositions():
            raise BadRecord("an unknown disposition", "Attributes.disposition")
        return value
    if _RESOLVED_ATTRIBUTE not in named:
        return None
    text = (field_text(attributes, named[_RESOLVED_ATTRIBUTE]) or "").strip().lower()
    if text in _YES:
        return "resolved"
    if text in _NO:
        return "unresolved"
    raise BadRecord("an unreadable yes/no", "Attributes.resolved")


def _dispositions() -> tuple[str, ...]:
    wrapped_up = schema_documents()["contact.wrapped_up"]["properties"]["attributes"]
    return tuple(wrapped_up["properties"]["disposition"]["enum"])


class ContactRecordImporter:
    """Contact records (CTR) → contact events."""

    name = CTR_IMPORTER

    def __init__(self, settle_seconds: float = SETTLE_SECONDS) -> None:
        self.settle_ms = round(settle_seconds * 1000)

    def read(self, paths: Sequence[Path]) -> Iterator[SourceRecord]:
        return read_json_records(paths)

    def convert(
        self, records: Iterable[SourceRecord], tenant: str
    ) -> Iterator[dict[str, Any] | Rejection]:
        pending = PendingLegs()
        for record in records:
            try:
                leg = parse_leg(record)
            except BadRecord as error:
                yield error.rejection(record, "InitiationTimestamp")
                continue
            if leg is None:
                continue
            pending.add(leg)
            for legs in pending.settled(self.settle_ms):
                yield from contact_events(legs, tenant)
        for legs in pending.settled(None):
            yield from contact_events(legs, tenant)


class PendingLegs:
    """The latest leg per ContactId, grouped by InitialContactId, until the group settles."""

    def __init__(self) -> None:
        self.groups: dict[str, dict[str, Leg]] = {}
        self.group_updated: dict[str, int] = {}
        self.queue: list[tuple[int, int, str]] = []  # (updated, arrival, group): oldest first
        self.arrivals = 0
        self.high_water = 0

    def add(self, leg: Leg) -> None:
        key = leg.initial_id or (leg.previous_id if leg.continues else None) or leg.contact_id
        legs = self.groups.setdefault(key, {})
        known = legs.get(leg.contact_id)
        if known is None or leg.updated_ms > known.updated_ms:
            legs[leg.contact_id] = leg
        updated = max(leg.updated_ms, self.group_updated.get(key, leg.updated_ms))
        self.group_updated[key] = updated
        self.arrivals += 1
        heapq.heappush(self.queue, (updated, self.arrivals, key))
        self.high_water = max(self.high_water, leg.updated_ms)

    def settled(self, settle_ms: int | None) -> Iterator[list[Leg]]:
        """The groups not updated for ``settle_ms`` before the latest update read (every group
        when ``settle_ms`` is None), oldest first."""
        while self.queue:
            updated, _, key = self.queue[0]
            if settle_ms is not None and updated + settle_ms > self.high_water:
                return
            heapq.heappop(self.queue)
            if self.group_updated.get(key) != updated:
                continue  # a stale entry: the group was updated (and re-queued) since
            del self.group_updated[key]
            yield list(self.groups.pop(key).values())


def fold_legs(legs: Iterable[Leg]) -> list[tuple[str, list[Leg]]]:
    """The contacts of a group of legs: ``(first leg's ContactId, legs in time order)``. A
    transfer or callback leg joins the contact of the leg it came from; any other leg starts a
    contact."""
    by_id = {leg.contact_id: leg for leg in legs}

    def root(leg: Leg) -> Leg:
        seen = {leg.contact_id}
        while leg.continues and leg.previous_id in by_id and leg.previous_id not in seen:
            leg = by_id[leg.previous_id]
            seen.add(leg.contact_id)
        return leg

    contacts: dict[str, list[Leg]] = {}
    for leg in by_id.values():
        first = root(leg)
        # A leg whose earlier legs are not in the input still belongs to their contact.
        source_id = (
            (first.initial_id or first.previous_id or first.contact_id)
            if first.continues
            else first.contact_id
        )
        contacts.setdefault(source_id, []).append(leg)
    return [
        (source_id, sorted(members, key=lambda leg: (leg.initiated_ms, leg.contact_id)))
        for source_id, members in sorted(
            contacts.items(), key=lambda item: (min(leg.initiated_ms for leg in item[1]), item[0])
        )
    ]


def contact_events(legs: Iterable[Leg], tenant: str) -> Iterator[dict[str, Any]]:
    """The contract events of a settled group of legs, contact by contact, in time order."""
    for source_id, contact_legs in fold_legs(legs):
        yield from legs_events(tenant, contact_id(CTR_IMPORTER, tenant, source_id), contact_legs)


def legs_events(tenant: str, contact: str, legs: list[Leg]) -> list[dict[str, Any]]:
    """The events of one contact from its legs (in time order), in time order."""
    events = ContactEvents(CTR_IMPORTER, tenant, contact, legs[0].channel)
    first = legs[0]
    events.add(
        "contact.started",
        first.initiated_ms,
        first.contact_id,
        direction=first.direction,
        customer=first.customer,
        attributes={"initiation_method": first.method},
    )
    answered_ms: int | None = None
    talk_ms = hold_ms = acw_ms = 0
    last_handled: Leg | None = None
    last_queued: Leg | None = None
    for index, leg in enumerate(legs):
        if index and leg.is_transfer:
            events.add(
                "contact.transferred",
                leg.initiated_ms,
                leg.contact_id,
                attributes={
                    "to_queue": leg.queue,
                    "to_agent_id": leg.agent if leg.connected_ms is not None else None,
                    "initiation_method": leg.method,
                },
            )
        if leg.enqueued_ms is not None and leg.queue:
            events.add("contact.queued", leg.enqueued_ms, leg.contact_id, queue=leg.queue)
            last_queued = leg
        if leg.connected_ms is None or not leg.agent:
            continue
        events.add("contact.answered", leg.connected_ms, leg.contact_id, agent_id=leg.agent)
        if answered_ms is None:
            answered_ms = leg.connected_ms
        leg_talk_ms = leg.talk_ms
        if leg_talk_ms is None:  # a record without the duration: from its disconnect
            end_ms = leg.disconnected_ms or leg.connected_ms
            leg_talk_ms = max(0, end_ms - leg.connected_ms - leg.hold_ms)
        if leg.hold_ms:
            hold_from = leg.connected_ms + leg_talk_ms
            holds = {"number_of_holds": leg.holds}
            events.add("contact.hold_started", hold_from, leg.contact_id, attributes=holds)
            events.add("contact.hold_ended", hold_from + leg.hold_ms, leg.contact_id)
        talk_ms += leg_talk_ms
        hold_ms += leg.hold_ms
        acw_ms += leg.acw_ms or 0
        last_handled = leg
    last = legs[-1]
    disconnected_ms = max(
        (leg.disconnected_ms for leg in legs if leg.disconnected_ms is not None),
        default=None,
    )
    ended = {
        "ended_by": _ENDED_BY.get(last.disconnect_reason or "", "system"),
        "disconnect_reason": last.disconnect_reason,
        "disconnected_at": format_utc(disconnected_ms / 1000) if disconnected_ms else None,
    }
    if answered_ms is not None and last_handled is not None:
        ended_ms = answered_ms + talk_ms + hold_ms
        events.add("contact.ended", ended_ms, contact, attributes=ended)
        if last_handled.acw_ms is not None:  # its after-contact work is over
            # the outcome the last leg that names one gives (attributes follow a transfer)
            disposition = next((leg.disposition for leg in reversed(legs) if leg.disposition), None)
            outcome = {"disposition": disposition}
            events.add("contact.wrapped_up", ended_ms + acw_ms, contact, attributes=outcome)
        if last_queued is last and last.connected_ms is None:
            # Answered, transferred to a queue and given up there: answered and abandoned.
            left_queue_ms = last.dequeued_ms or last.disconnected_ms or last.enqueued_ms
            events.add("contact.abandoned", left_queue_ms, contact)
        return events.in_time_order()
    if disconnected_ms is None:
        return events.in_time_order()  # still going: the stream times it out as incomplete
    events.add("contact.ended", disconnected_ms, contact, attributes=ended)
    if last_queued is not None:
        left_queue_ms = last_queued.dequeued_ms or last_queued.disconnected_ms
        events.add("contact.abandoned", left_queue_ms or disconnected_ms, contact)
    elif first.direction == "inbound":
        # Ended in the contact flow, before any queue: contained in self-service.
        attributes = {"cause": "self_service"}
        events.add("contact.deflected", disconnected_ms, contact, attributes=attributes)
    return events.in_time_order()


class AgentEventImporter:
    """Agent event stream records → ``agent.state_changed``.

    The state is derived from the agent snapshot after the event: a connected contact (on hold
    or not) is ``busy``; an ended contact still in the snapshot is after-contact work; else the
    agent status: ROUTABLE is ``available``, CUSTOM (break, lunch, training ...) and a missed or
    failed contact ``break``, OFFLINE and LOGOUT ``offline``. An event whose state equals the one
    before (a configuration change) and HEART_BEAT give no event.
    """

    name = AGENT_EVENTS_IMPORTER

    def read(self, paths: Sequence[Path]) -> Iterator[SourceRecord]:
        return read_json_records(paths)

    def convert(
        self, records: Iterable[SourceRecord], tenant: str
    ) -> Iterator[dict[str, Any] | Rejection]:
        for record in records:
            try:
                event = agent_state_event(readable(record), tenant)
            except BadRecord as error:
                yield error.rejection(record, "EventTimestamp")
                continue
            if event is not None:
                yield event


def agent_state_event(data: Mapping[str, Any], tenant: str) -> dict[str, Any] | None:
    """The ``agent.state_changed`` of one agent event stream record, None when the agent's state
    did not change."""
    kind = required_text(data, "EventType")
    if kind == "HEART_BEAT":
        return None
    if kind not in ("STATE_CHANGE", "LOGIN", "LOGOUT"):
        raise BadRecord("an unknown EventType", kind[:32])
    at_ms = required_time(data, "EventTimestamp")
    current = field_object(data, "CurrentAgentSnapshot")
    configuration = field_object(current, "Configuration")
    agent = field_text(configuration, "Username") or _arn_tail(field_text(data, "AgentARN"))
    if not agent:
        raise BadRecord("a required field is missing", "Configuration.Username or AgentARN")
    state = "offline" if kind == "LOGOUT" else _agent_state(current)
    if kind == "STATE_CHANGE" and _previous_state(data) == state:
        return None
    identity = field_text(data, "EventId") or f"{agent}@{at_ms}"
    status = field_object(current, "AgentStatus")
    attributes = {"state": state, "event_type": kind, "status": field_text(status, "Name")}
    return envelope(
        AGENT_EVENTS_IMPORTER,
        tenant,
        identity,
        "agent.state_changed",
        format_utc(at_ms / 1000),
        agent_id=agent,
        attributes={name: value for name, value in attributes.items() if value is not None},
    )


_BUSY_CONTACT_STATES = frozenset({"CONNECTED", "CONNECTED_ONHOLD"})
_BLOCKED_CONTACT_STATES = frozenset({"MISSED", "ERROR"})
_STATUS_STATES = {"ROUTABLE": "available", "CUSTOM": "break", "OFFLINE": "offline"}


def _previous_state(data: Mapping[str, Any]) -> str | None:
    """The state before the event, None when unknown (no previous snapshot, or one this
    importer cannot read: the event is then converted rather than lost)."""
    try:
        previous = field_object(data, "PreviousAgentSnapshot")
        return _agent_state(previous) if previous else None
    except BadRecord:
        return None


def _agent_state(snapshot: Mapping[str, Any]) -> str:
    contacts = snapshot.get("Contacts") or []
    states = {contact.get("State") for contact in contacts if isinstance(contact, Mapping)}
    if states & _BUSY_CONTACT_STATES:
        return "busy"
    if "ENDED" in states:
        return "after_contact_work"
    if states & _BLOCKED_CONTACT_STATES:
        return "break"
    status_type = field_object(snapshot, "AgentStatus").get("Type")
    state = _STATUS_STATES.get(str(status_type))
    if state is None:
        raise BadRecord("an unknown AgentStatus.Type", str(status_type)[:32])
    return state


def _customer(data: Mapping[str, Any], channel: str) -> dict[str, str]:
    """The contract's customer identifiers of a record (raw: the stream normalises and hashes
    them); an unidentified customer is ``anonymous``, which never links anyone."""
    customer = {}
    endpoint = field_object(data, "CustomerEndpoint")
    kind = _ENDPOINT_KINDS.get(str(endpoint.get("Type")))
    address = endpoint.get("Address")
    if kind and isinstance(address, str) and address:
        if channel == "social" and kind == "phone":
            kind = "social_handle"  # a WhatsApp number identifies the messaging account
        customer[kind] = address
    if isinstance(data.get("CustomerId"), str) and data["CustomerId"]:
        customer["customer_id"] = data["CustomerId"]
    return customer or {_ANONYMOUS_KIND.get(channel, "chat_visitor_id"): "anonymous"}


def _subtype(data: Mapping[str, Any]) -> str:
    subtype = field_object(field_object(data, "SegmentAttributes"), "connect:Subtype")
    return str(subtype.get("ValueString") or "")


def _seconds(data: Mapping[str, Any], name: str) -> int | None:
    """A duration field in whole seconds, in milliseconds."""
    value = field_number(data, name)
    return None if value is None else round(value * 1000)


def _arn_tail(arn: str | None) -> str | None:
    """The resource id at the end of an ARN (``.../agent/<id>``)."""
    return (arn.rsplit("/", 1)[-1] or None) if arn else None
