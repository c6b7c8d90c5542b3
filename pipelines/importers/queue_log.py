"""Asterisk / FreePBX / Wazo ``queue_log`` (docs/importers.md, Asterisk queue_log).

Two forms of the same log:

- the text file ``/var/log/asterisk/queue_log``: ``epoch|callid|queue|agent|EVENT|data…``;
- the database table (realtime ``queue_log``, Wazo's ``queue_log``) exported with a header
  line: ``time`` (a datetime, in the mapping's ``time_zone``, or an epoch), ``callid``,
  ``queuename``, ``agent``, ``event`` and ``data1``…``data5`` (or one ``data`` column joined
  with ``|``), separated by commas, semicolons, tabs or ``|``.

Each call (callid) becomes one voice contact. Times come from the durations Asterisk logs
(CONNECT's holdtime, COMPLETE*'s calltime, ABANDON's waittime) anchored at the call's
ENTERQUEUE, so a call held 2 s answers exactly 2 s after it queued. A call that leaves its
queue without ending (a transfer, an exit by timeout, key or empty queue, a refused join) may
come back to a queue under the same callid, so its end waits until it does not: until the log
has gone ``idle_hours`` (4 h, the stream's idle timeout) past its last line, or the input ends.
That is the converter's memory bound: the calls and agents of the last ``idle_hours``.
"""

from __future__ import annotations

import csv
import re
import tomllib
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipelines.importers.framework import (
    ImportFailed,
    Rejection,
    SourceRecord,
    contact_id,
    envelope,
    text_lines,
)
from schemas.times import format_utc

NAME = "queue-log"
TABLE_COLUMNS = ("time", "callid", "queuename", "agent", "event")
_EPOCH = re.compile(r"\d{9,11}(?:\.\d+)?")
_CALLER_DIGITS = re.compile(r"\d")
_SAFE_NAME = re.compile(r"[A-Z0-9_]{1,32}")
_NO_CALL = frozenset({"", "NONE", "REALTIME"})
_NULLS = frozenset({"NULL", "\\N"})  # a database's empty cell as exported (psql, mysql)

# Events that say nothing the contract records (docs/importers.md lists why): read, not rejected.
IGNORED = frozenset(
    {
        "RINGNOANSWER", "RINGCANCELED", "QUEUESTART", "CONFIGRELOAD", "AGENTDUMP",
        "SYSCOMPAT", "DID", "INFO", "PRESENCE", "PENALTY", "MIXMONITOR", "WRAPUPSTART",
    }
)  # fmt: skip
COMPLETED = {"COMPLETEAGENT": "agent", "COMPLETECALLER": "customer"}
TRANSFERS = {"TRANSFER": "cold", "BLINDTRANSFER": "cold", "ATTENDEDTRANSFER": "warm"}
# Left the queue unanswered without hanging up: (who ended it, index of waittime in data).
EXITS = {
    "EXITWITHTIMEOUT": ("system", 2),
    "EXITEMPTY": ("system", 2),
    "EXITWITHKEY": ("customer", 3),
}
# Never reached a queue: the reason its wrap-up records.
REFUSED = {
    "FULL": "queue_full",
    "JOINEMPTY": "queue_empty",
    "JOINUNAVAIL": "queue_unavailable",
    "CLOSED": "queue_closed",
}
LOGINS = frozenset({"AGENTLOGIN", "AGENTCALLBACKLOGIN", "ADDMEMBER"})
LOGOFFS = frozenset({"AGENTLOGOFF", "AGENTCALLBACKLOGOFF"})
PAUSES = frozenset({"PAUSE", "PAUSEALL", "PAUSECUSTOM"})
UNPAUSES = frozenset({"UNPAUSE", "UNPAUSEALL"})
AGENT_EVENTS = LOGINS | LOGOFFS | PAUSES | UNPAUSES | {"REMOVEMEMBER"}


@dataclass
class _Call:
    contact_id: str
    last_seen: float
    entered_at: float | None = None  # of its latest queue entry
    answered_at: float | None = None
    counts: dict[str, int] = field(default_factory=dict)  # events emitted, by type
    pending_end: tuple[float, str, str | None] | None = None  # at, ended_by, wrap-up reason
    transferred_at: float | None = None  # the latest transfer, until the call queues again
    holding: bool = False  # transferred and queued again: on hold until the next answer


@dataclass
class _Agent:
    state: str | None = None  # the last state emitted
    queues: set[str] = field(default_factory=set)  # member of (ADDMEMBER)
    logged_in: bool = False  # AGENTLOGIN
    paused: bool = False
    calls: int = 0  # connected calls in progress


@dataclass(frozen=True)
class QueueLogMapping:
    """The optional mapping file: ``time_zone`` of the table form's datetimes (IANA name,
    default UTC) and ``idle_hours`` (4)."""

    time_zone: str = "UTC"
    idle_hours: float = 4.0

    @classmethod
    def load(cls, path: Path) -> QueueLogMapping:
        try:
            table = tomllib.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ImportFailed(f"mapping {path}: {exc}") from None
        unknown = set(table) - {"time_zone", "idle_hours"}
        if unknown:
            raise ImportFailed(f"mapping {path}: unknown keys {sorted(unknown)}")
        mapping = cls(**table)
        _zone(mapping.time_zone)
        return mapping


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ImportFailed(f"unknown time zone {name!r} (an IANA name)") from None


class QueueLogImporter:
    name = NAME

    def __init__(self, mapping: Path | None = None) -> None:
        self.mapping = QueueLogMapping() if mapping is None else QueueLogMapping.load(mapping)
        self.zone = _zone(self.mapping.time_zone)

    # -- reading ----------------------------------------------------------------------------

    def read(self, paths: Sequence[Path]) -> Iterator[SourceRecord]:
        """One record per non-blank line: ``fields`` = time, callid, queue, agent, event,
        data…, and the ``line`` as read (for the operators' dead letter)."""
        for path in paths:
            lines = ((n, text, at) for n, text, at in text_lines(path) if text.strip())
            first = next(lines, None)
            if first is None:
                continue
            if _EPOCH.fullmatch(first[1].split("|", 1)[0].strip()):
                for number, text, position in chain([first], lines):
                    yield SourceRecord(
                        str(path), number, {"fields": text.split("|"), "line": text}, position
                    )
            else:
                yield from self._read_table(path, first, lines)

    def _read_table(self, path: Path, header: tuple[int, str, int], lines: Iterator) -> Iterator:
        delimiter = max(",;\t|", key=header[1].count)
        names = [
            name.strip().lower() for name in next(csv.reader([header[1]], delimiter=delimiter))
        ]
        missing = [name for name in TABLE_COLUMNS if name not in names]
        if missing:
            raise ImportFailed(
                f"{path}: neither a queue_log text file (epoch|callid|…) nor a table export "
                f"with a header (missing columns: {', '.join(missing)})"
            )
        data_columns = [n for n in ("data1", "data2", "data3", "data4", "data5") if n in names]
        for number, text, position in lines:
            cells = [
                "" if cell.strip() in _NULLS else cell.strip()
                for cell in next(csv.reader([text], delimiter=delimiter))
            ]
            row = dict(zip(names, cells, strict=False))
            if data_columns:
                data = [row.get(name, "") for name in data_columns]
            else:
                data = row.get("data", "").split("|")
            fields = [row.get(name, "") for name in TABLE_COLUMNS] + data
            yield SourceRecord(str(path), number, {"fields": fields, "line": text}, position)

    # -- converting -------------------------------------------------------------------------

    def convert(
        self, records: Iterable[SourceRecord], tenant: str
    ) -> Iterator[dict[str, Any] | Rejection]:
        return _Conversion(tenant, self.zone, self.mapping.idle_hours * 3600).run(records)


class _Conversion:
    """The state of one conversion: open calls (oldest first) and agents."""

    def __init__(self, tenant: str, zone: ZoneInfo, idle_seconds: float) -> None:
        self.tenant = tenant
        self.zone = zone
        self.idle_seconds = idle_seconds
        self.calls: OrderedDict[str, _Call] = OrderedDict()
        self.agents: dict[str, _Agent] = {}
        self.now = float("-inf")

    def run(self, records: Iterable[SourceRecord]) -> Iterator[dict[str, Any] | Rejection]:
        for record in records:
            fields = [str(part) for part in record.data["fields"]]
            if len(fields) < 5:
                yield self._reject(record, "not a queue_log line", f"{len(fields)} fields")
                continue
            at = self._time(fields[0])
            if at is None:
                yield self._reject(record, "unreadable time")
                continue
            if at > self.now:
                self.now = at
                yield from self._expire()
            try:
                yield from self._line(record, at, fields)
            except (ValueError, IndexError):
                event = fields[4].strip().upper()
                shown = event if _SAFE_NAME.fullmatch(event) else "?"
                yield self._reject(record, "unreadable event data", shown, at)
        for callid in list(self.calls):
            yield from self._close(callid)

    def _time(self, text: str) -> float | None:
        text = text.strip()
        try:
            if _EPOCH.fullmatch(text):
                return float(text)
            value = datetime.fromisoformat(text)
        except ValueError:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=self.zone)
        return value.astimezone(UTC).timestamp()

    def _reject(
        self, record: SourceRecord, reason: str, detail: str = "", at: float | None = None
    ) -> Rejection:
        occurred = None if at is None else format_utc(at)
        return Rejection(record.file, record.line, reason, detail, occurred, record.data["line"])

    def _expire(self) -> Iterator[dict[str, Any]]:
        """Close the calls the log has been silent about for ``idle_seconds``."""
        while self.calls:
            callid, call = next(iter(self.calls.items()))
            if call.last_seen + self.idle_seconds > self.now:
                return
            yield from self._close(callid)

    def _close(self, callid: str) -> Iterator[dict[str, Any]]:
        call = self.calls.pop(callid)
        if call.pending_end is not None:
            at, ended_by, reason = call.pending_end
            yield from self._end(callid, call, at, ended_by, reason)

    # -- one line ---------------------------------------------------------------------------

    def _line(
        self, record: SourceRecord, at: float, fields: list[str]
    ) -> Iterator[dict[str, Any] | Rejection]:
        callid, queue, agent = (part.strip() for part in fields[1:4])
        event = fields[4].strip().upper()
        data = fields[5:]
        if event in IGNORED:
            return
        if event in AGENT_EVENTS:
            yield from self._agent_event(event, at, agent, queue)
            return
        known = {"ENTERQUEUE", "CONNECT", "ABANDON"} | COMPLETED.keys() | TRANSFERS.keys()
        if event not in known | EXITS.keys() | REFUSED.keys():
            shown = event if _SAFE_NAME.fullmatch(event) else "?"
            yield self._reject(record, "unknown queue_log event", shown, at)
            return
        if callid.upper() in _NO_CALL:
            yield self._reject(record, "call event without a call id", event, at)
            return
        call = self._call(callid, at)
        if event == "ENTERQUEUE":
            yield from self._enter(callid, call, at, queue, data)
        elif event == "CONNECT":
            yield from self._connect(callid, call, at, queue, agent, int(data[0] or 0))
        elif event in COMPLETED:
            yield from self._complete(callid, call, at, queue, agent, data, COMPLETED[event])
        elif event in TRANSFERS:
            yield from self._transfer(callid, call, at, queue, agent, data, TRANSFERS[event])
        elif event == "ABANDON":
            waited = int(data[2] or 0)
            when = at if call.entered_at is None else call.entered_at + waited
            yield self._event(callid, call, "contact.abandoned", when, queue=queue or None)
            call.pending_end = None
        elif event in EXITS:
            ended_by, index = EXITS[event]
            waited = int(data[index] or 0) if len(data) > index else 0
            when = at if call.entered_at is None else call.entered_at + waited
            call.pending_end = (when, ended_by, None)
        else:  # refused at the door: never queued
            call.pending_end = (at, "system", REFUSED[event])

    def _call(self, callid: str, at: float) -> _Call:
        call = self.calls.get(callid)
        if call is None:
            call = _Call(contact_id(NAME, self.tenant, callid), at)
            self.calls[callid] = call
        else:
            call.last_seen = max(call.last_seen, at)
            self.calls.move_to_end(callid)
        return call

    def _event(
        self, callid: str, call: _Call, event_type: str, at: float, **fields: Any
    ) -> dict[str, Any]:
        ordinal = call.counts.get(event_type, 0)
        call.counts[event_type] = ordinal + 1
        return envelope(
            NAME, self.tenant, callid, event_type, format_utc(at), ordinal,
            channel="voice", contact_id=call.contact_id, **fields,
        )  # fmt: skip

    def _enter(
        self, callid: str, call: _Call, at: float, queue: str, data: list[str]
    ) -> Iterator[dict[str, Any]]:
        call.pending_end = None  # back in a queue after a transfer or an exit: not over yet
        if call.transferred_at is not None:
            # between agents the caller waits on hold: the talk stays the agents' call times
            yield self._event(callid, call, "contact.hold_started", call.transferred_at)
            call.transferred_at, call.holding = None, True
        if not call.counts:
            caller = data[1].strip() if len(data) > 1 else ""
            # contact.started needs an identifier; a withheld number gives none (the contact
            # then starts at its queueing, counted inbound, docs/importers.md)
            if len(_CALLER_DIGITS.findall(caller)) >= 3:
                yield self._event(
                    callid, call, "contact.started", at, direction="inbound",
                    customer={"phone": caller}, attributes={"entry_point": "queue"},
                )  # fmt: skip
        call.entered_at = at
        yield self._event(callid, call, "contact.queued", at, queue=queue)

    def _connect(
        self, callid: str, call: _Call, at: float, queue: str, agent: str, held: int
    ) -> Iterator[dict[str, Any]]:
        if call.entered_at is None:  # the log starts after its ENTERQUEUE
            call.entered_at = at - held
            yield self._event(callid, call, "contact.queued", call.entered_at, queue=queue)
        call.answered_at = call.entered_at + held
        yield self._event(
            callid, call, "contact.answered", call.answered_at, agent_id=agent, queue=queue
        )
        if call.holding:
            yield self._event(callid, call, "contact.hold_ended", call.answered_at)
            call.holding = False
        yield from self._agent_call(agent, call.answered_at, +1)

    def _talked(
        self, callid: str, call: _Call, at: float, queue: str, agent: str, data: list[str]
    ) -> Iterator[dict[str, Any]]:
        """The end of the talk of a connected call (COMPLETE*, TRANSFER*), from its data
        ``holdtime|calltime[|origposition]``."""
        held, talked = int(data[0] or 0), int(data[1] or 0)
        if call.answered_at is None:  # connected before the log starts
            yield from self._connect(callid, call, at - talked, queue, agent, held)
        return call.answered_at + talked

    def _complete(self, callid, call, at, queue, agent, data, ended_by) -> Iterator[dict[str, Any]]:
        ended = yield from self._talked(callid, call, at, queue, agent, data)
        call.pending_end = None
        yield from self._end(callid, call, ended, ended_by, None)
        yield from self._agent_call(agent, ended, -1)

    def _transfer(self, callid, call, at, queue, agent, data, mode) -> Iterator[dict[str, Any]]:
        ended = yield from self._talked(callid, call, at, queue, agent, data[2:])
        yield self._event(
            callid, call, "contact.transferred", ended, agent_id=agent or None,
            attributes={"mode": mode},
        )  # fmt: skip
        call.pending_end = (ended, "agent", None)
        call.transferred_at = ended
        call.answered_at = None  # a later CONNECT is another agent's leg of the same contact
        yield from self._agent_call(agent, ended, -1)

    def _end(
        self, callid: str, call: _Call, at: float, ended_by: str, reason: str | None
    ) -> Iterator[dict[str, Any]]:
        yield self._event(callid, call, "contact.ended", at, attributes={"ended_by": ended_by})
        wrap = {"reason": reason} if reason is not None else None
        yield self._event(callid, call, "contact.wrapped_up", at, attributes=wrap)

    # -- agents -----------------------------------------------------------------------------

    def _agent(self, agent: str) -> _Agent:
        return self.agents.setdefault(agent, _Agent())

    def _agent_event(
        self, event: str, at: float, agent: str, queue: str
    ) -> Iterator[dict[str, Any]]:
        if agent.upper() in _NO_CALL:
            return
        state = self._agent(agent)
        if event in LOGINS:
            if event == "ADDMEMBER":
                state.queues.add(queue)
            else:
                state.logged_in = True
        elif event in LOGOFFS:
            state.logged_in = False
            state.queues.clear()
        elif event == "REMOVEMEMBER":
            state.queues.discard(queue)
        elif event in PAUSES:
            state.paused = True
        else:
            state.paused = False
        yield from self._agent_state(agent, at)

    def _agent_call(self, agent: str, at: float, change: int) -> Iterator[dict[str, Any]]:
        if not agent or agent.upper() in _NO_CALL:
            return
        state = self._agent(agent)
        state.calls = max(0, state.calls + change)
        if change > 0:
            state.logged_in = True  # a static member logs no login: on a call, it works
        yield from self._agent_state(agent, at)

    def _agent_state(self, agent: str, at: float) -> Iterator[dict[str, Any]]:
        """An ``agent.state_changed`` when the agent's state is not the one last emitted."""
        state = self.agents[agent]
        if state.calls:
            now = "busy"
        elif not state.logged_in and not state.queues:
            now = "offline"
        elif state.paused:
            now = "break"
        else:
            now = "available"
        if now == state.state:
            return
        state.state = now
        yield envelope(
            NAME, self.tenant, f"{agent}@{at}", "agent.state_changed", format_utc(at),
            agent_id=agent, attributes={"state": now},
        )  # fmt: skip
