"""Hand-made intermediate layers for the KPI tests: ``int_*`` tables with exactly the columns of
the warehouse contract that the marts read (``warehouse.kpi_inputs.INPUTS``), filled from
``ContactFacts`` written the way the stream folds them. Journeys come from the stream's own
definition (``streams.journeys.build_journeys``) unless a test gives them. ``write_lake`` lands
the same facts in a Parquet lake instead, for the real warehouse build (``warehouse.build``).

Times in the helpers are seconds after the contact's start, so that a test reads like the
timeline it describes and its expected values can be worked out by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import duckdb
import orjson

from schemas.records import ContactFacts, JourneyFacts
from schemas.settings import Settings
from schemas.times import format_utc, parse_rfc3339
from streams.canonical import canonicalise
from streams.dead_letters import dead_letter_records
from streams.journeys import ANONYMOUS_PREFIX, build_journeys
from tests.pii import keyed_settings
from tests.warehouse.lakes import land
from warehouse.kpi_inputs import INPUTS
from warehouse.kpi_marts import refresh_marts
from warehouse.kpis import kpi_values
from warehouse.tables import table_named

if TYPE_CHECKING:
    from pipelines.simulator.run import Simulation

DAY = date(2026, 1, 5)
NEXT_DAY = date(2026, 1, 6)


def settings(churn: Mapping[str, Any] | None = None, **kpis: Any) -> Settings:
    """Default settings (no environment, no file) with some KPI or churn knobs changed."""
    return keyed_settings(kpis=kpis, churn=churn or {})


def refreshed(
    contacts: list[ContactFacts],
    *,
    date_from: date = DAY,
    date_to: date = DAY,
    knobs: Settings | None = None,
    timestamp_type: str = "TIMESTAMP",
    time_zone: str = "UTC",
    **layer: Any,
) -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse with this intermediate layer and its marts refreshed, in a session
    of ``time_zone``."""
    con = duckdb.connect()
    con.execute(f"set TimeZone = '{time_zone}'")
    build_int_layer(con, contacts, timestamp_type=timestamp_type, **layer)
    refresh_marts(con, date_from, date_to, knobs or settings())
    return con


def kpis(
    con: duckdb.DuckDBPyConnection,
    by: tuple[str, ...] = (),
    *,
    date_from: date = DAY,
    date_to: date = DAY,
    knobs: Settings | None = None,
) -> dict[tuple, dict[str, Any]]:
    """``kpi_values`` keyed by (kpi id, *group values)."""
    rows = kpi_values(con, date_from, date_to, list(by), knobs or settings())
    return {(row["kpi"], *(row[d] for d in by)): row for row in rows}


def utc(text: str) -> str:
    """``2026-01-05T09:00:00`` -> ``2026-01-05T09:00:00.000Z``."""
    return format_utc(parse_rfc3339(text if text.endswith("Z") else text + "Z"))


def contact(
    contact_id: str,
    start: str,
    *,
    channel: str = "voice",
    tenant: str = "acme",
    customer: str | None = "alice",
    direction: str | None = "inbound",
    queued: float | None = 0.0,
    answered: float | None = None,
    ended: float | None = None,
    wrapped: float | None = None,
    abandoned: float | None = None,
    hold: float = 0.0,
    queue: str = "acme.support",
    agent: str = "agent-1",
    disposition: str | None = None,
    resolvable: bool = True,
    warm: int = 0,
    cold: int = 0,
    deflection: str | None = None,
    cancellation_intent: bool = False,
    has_start_event: bool = True,
) -> ContactFacts:
    """A contact's facts; times are seconds after ``start`` (UTC, ``2026-01-05T09:00:00``)."""
    t0 = parse_rfc3339(utc(start))

    def at(offset: float | None) -> str | None:
        return None if offset is None else format_utc(t0 + offset)

    handled = answered is not None and ended is not None
    return ContactFacts(
        contact_id=contact_id,
        tenant=tenant,
        channel=channel,
        direction=direction if has_start_event else None,
        customer_ids=[f"phone:{customer}"] if customer else [],
        queues=[queue] if queued is not None else [],
        agents=[agent] if answered is not None else [],
        started_at=at(0.0) if has_start_event else None,
        first_queued_at=at(queued),
        answered_at=at(answered),
        ended_at=at(ended),
        wrapped_up_at=at(wrapped),
        abandoned_at=at(abandoned),
        talk_seconds=ended - answered - hold if handled else None,
        hold_seconds=hold,
        acw_seconds=wrapped - ended if wrapped is not None and ended is not None else None,
        transfers=warm + cold,
        warm_transfers=warm,
        cold_transfers=cold,
        abandoned=abandoned is not None,
        short_abandon=abandoned is not None and queued is not None and abandoned - queued < 5,
        deflected=deflection is not None,
        deflection_cause=deflection,
        disposition=disposition,
        resolvable_in_one_contact=resolvable,
        cancellation_intent=cancellation_intent,
        status="closed",
    )


def handled_call(contact_id: str, start: str, **fields: Any) -> ContactFacts:
    """A voice call queued at 0, answered at 10 s, ended at 310 s, wrapped up at 340 s."""
    timeline = {"queued": 0.0, "answered": 10.0, "ended": 310.0, "wrapped": 340.0}
    return contact(contact_id, start, **{**timeline, "disposition": "resolved", **fields})


def survey(
    event_id: str,
    contact_id: str,
    at: str,
    *,
    nps: int | None = None,
    csat: int | None = None,
    ces: int | None = None,
    tenant: str = "acme",
    channel: str = "voice",
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "contact_id": contact_id,
        "tenant": tenant,
        "channel": channel,
        "survey_at": utc(at),
        "nps": nps,
        "csat": csat,
        "ces": ces,
    }


def span(agent: str, state: str, start: str, end: str, tenant: str = "acme") -> dict[str, Any]:
    return {
        "agent_id": agent,
        "state": state,
        "started_at": utc(start),
        "ended_at": utc(end),
        "tenant": tenant,
    }


def stream_journeys(contacts: Iterable[ContactFacts], window_days: float = 7.0) -> list:
    """The journeys the stream builds from these contacts (customer key = the fixture's name)."""
    by_customer: dict[tuple[str, str], list[ContactFacts]] = {}
    for c in contacts:
        key = _customer_key(c) or ANONYMOUS_PREFIX + c.contact_id
        by_customer.setdefault((c.tenant, key), []).append(c)
    journeys = []
    for (_, key), members in sorted(by_customer.items()):
        journeys += build_journeys(members, window_days * 86400, key)
    return journeys


def started_events(contacts: Iterable[ContactFacts]) -> list[dict[str, Any]]:
    """A canonical ``contact.started`` event per contact that has a start."""
    return [
        {
            "event_id": f"{c.contact_id}:started",
            "event_type": "contact.started",
            "occurred_at": c.started_at,
            "tenant": c.tenant,
            "channel": c.channel,
            "direction": c.direction,
            "contact_id": c.contact_id,
            "customer_ids": c.customer_ids,
        }
        for c in contacts
        if c.started_at is not None
    ]


def build_int_layer(
    con: duckdb.DuckDBPyConnection,
    contacts: list[ContactFacts],
    *,
    surveys: Iterable[Mapping[str, Any]] = (),
    spans: Iterable[Mapping[str, Any]] = (),
    events: Iterable[Mapping[str, Any]] = (),
    journeys: list[JourneyFacts] | None = None,
    customer_keys: Mapping[str, str] | None = None,
    timestamp_type: str = "TIMESTAMP",
) -> None:
    """Create the ``int_*`` tables the marts read, as the warehouse build would.

    A contact's customer is the name given to ``contact`` unless ``customer_keys`` (contact id
    -> stitched customer key) says otherwise."""
    tz = timestamp_type.upper() in {"TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE"}
    for relation, columns in INPUTS.items():
        typed = ", ".join(
            f'"{name}" {timestamp_type if kind == "TIMESTAMP" else kind}'
            for name, kind in columns.items()
        )
        con.execute(f"create or replace table {relation} ({typed})")
    by_id = {c.contact_id: c for c in contacts}
    rows = [_contact_row(c) for c in contacts]
    if customer_keys is not None:
        for row in rows:
            row["customer_key"] = customer_keys.get(row["contact_id"])
    _insert(con, "int_contacts", rows, tz)
    if journeys is None:
        journeys = stream_journeys(contacts)
    _insert(con, "int_journeys", [_journey_row(j) for j in journeys], tz)
    survey_rows = []
    for s in surveys:
        known = by_id.get(s["contact_id"])
        survey_rows.append({**s, "tenant": known.tenant if known else s["tenant"]})
    _insert(con, "int_surveys", survey_rows, tz)
    _insert(con, "int_agent_state_spans", [_span_row(s) for s in spans], tz)
    keys = {(c.tenant, f"phone:{k}", k) for c in contacts if (k := _customer_key(c))}
    _insert(
        con,
        "int_customer_keys",
        [{"tenant": t, "identifier": i, "customer_key": k} for t, i, k in sorted(keys)],
        tz,
    )
    dated = [
        {**e, "business_day": _day_of(e["occurred_at"])}
        for e in (*started_events(contacts), *events)
    ]
    _insert(con, "int_events", dated, tz)


def _customer_key(c: ContactFacts) -> str | None:
    return c.customer_ids[0].removeprefix("phone:") if c.customer_ids else None


def _contact_row(c: ContactFacts) -> dict[str, Any]:
    row = c.to_dict()
    row["customer_key"] = _customer_key(c)
    row["started_day"] = _day_of(c.started_at)
    row["first_queue"] = c.queues[0] if c.queues else None
    row["first_agent"] = c.agents[0] if c.agents else None
    return row


def _journey_row(j: JourneyFacts) -> dict[str, Any]:
    row = j.to_dict()
    row["first_started_day"] = date.fromisoformat(j.first_started_at[:10])
    row["contact_count"] = len(j.contact_ids)
    return row


def _span_row(s: Mapping[str, Any]) -> dict[str, Any]:
    """A span as int_agent_state_spans holds it: until the next change, whatever the day (the
    marts cut it at the end of its tenant's day)."""
    start, end = _datetime(s["started_at"]), _datetime(s["ended_at"])
    return {**s, "seconds": (end - start).total_seconds(), "day": start.date()}


def _day_of(text: str | None) -> date | None:
    """The UTC day of an RFC 3339 time, as the lake files the rows of that time."""
    return _datetime(text).date() if text else None


def _datetime(text: str) -> datetime:
    return datetime.fromtimestamp(parse_rfc3339(text), UTC)


def _insert(
    con: duckdb.DuckDBPyConnection, relation: str, rows: list[Mapping[str, Any]], tz: bool
) -> None:
    columns = INPUTS[relation]
    if not rows:
        return
    names = ", ".join(f'"{name}"' for name in columns)
    marks = ", ".join("?" for _ in columns)
    values = []
    for row in rows:
        values.append(
            [
                _time_value(row.get(name), tz) if kind == "TIMESTAMP" else row.get(name)
                for name, kind in columns.items()
            ]
        )
    # many rows per statement: executemany runs one statement per row, 10x slower on the
    # thousands of contacts of a simulated month
    for first in range(0, len(values), _ROWS_PER_INSERT):
        chunk = values[first : first + _ROWS_PER_INSERT]
        tuples = ", ".join([f"({marks})"] * len(chunk))
        con.execute(
            f"insert into {relation} ({names}) values {tuples}", [v for row in chunk for v in row]
        )


_ROWS_PER_INSERT = 200


def _time_value(text: str | None, tz: bool) -> datetime | None:
    if text is None:
        return None
    value = _datetime(text)
    # A naive datetime is stored as is in TIMESTAMP; an aware one in TIMESTAMPTZ.
    return value if tz else value.replace(tzinfo=None)


# ---------------------------------------------------------------- the same layer as a lake


def write_lake(
    settings: Settings,
    contacts: list[ContactFacts],
    *,
    surveys: Iterable[Mapping[str, Any]] = (),
    spans: Iterable[Mapping[str, Any]] = (),
    events: Iterable[Mapping[str, Any]] = (),
    journeys: list[JourneyFacts] | None = None,
    dead_letters: Iterable[str] = (),
    partition: int = 0,
) -> None:
    """Land the same facts as ``build_int_layer`` in the lake of ``settings``, as the stream's topics
    would carry them (canonical events, contact and journey versions, customer keys, dead
    letters), so that the real warehouse build makes the ``int_*`` views from them.
    ``dead_letters`` are raw messages rejected on ``DAY``. Records are in Kafka ``partition``
    from offset 0: land more facts in the same lake under another partition."""
    canonical = [*started_events(contacts), *events]
    canonical += [_survey_event(s) for s in surveys]
    canonical += _state_changes(spans)
    events_landed = [{"schema_version": 1, **e} for e in canonical]
    _land(settings, "events", events_landed, _field("occurred_at"), partition)
    _land(
        settings,
        "contact_versions",
        [{**c.to_dict(), "version": 1} for c in contacts],
        _field("started_at"),
        partition,
    )
    if journeys is None:
        journeys = stream_journeys(contacts)
    _land(
        settings,
        "journey_versions",
        [{**j.to_dict(), "version": 1, "superseded": False} for j in journeys],
        _field("first_started_at"),
        partition,
    )
    keys = sorted({(c.tenant, f"phone:{k}", k) for c in contacts if (k := _customer_key(c))})
    midday = lambda _: utc(f"{DAY}T12:00:00")  # noqa: E731
    _land(
        settings,
        "customer_keys",
        [{"tenant": t, "identifier": i, "customer_key": k, "version": 1} for t, i, k in keys],
        midday,
        partition,
    )
    rejected = [
        dead_letter_records(
            raw.encode(), ["not JSON"], "omnicx.raw-events", 0, offset, max_stored_bytes=1 << 20
        ).analyst
        for offset, raw in enumerate(dead_letters)
    ]
    _land(settings, "dead_letters", rejected, midday, partition)


def _survey_event(s: Mapping[str, Any]) -> dict[str, Any]:
    scores = {k: s[k] for k in ("nps", "csat", "ces") if s.get(k) is not None}
    return {
        "event_id": s["event_id"],
        "event_type": "survey.completed",
        "occurred_at": s["survey_at"],
        "tenant": s["tenant"],
        "channel": s["channel"],
        "contact_id": s["contact_id"],
        "customer_ids": [],
        "attributes": {**scores, "cancellation_intent": False},
    }


def _state_changes(spans: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``agent.state_changed`` events: one at each span's start, and ``offline`` at the end of
    a span no other span of the agent starts at."""
    spans = list(spans)
    starts = {(s["agent_id"], s["started_at"]) for s in spans}
    changes = [(s, s["started_at"], s["state"]) for s in spans]
    changes += [
        (s, s["ended_at"], "offline") for s in spans if (s["agent_id"], s["ended_at"]) not in starts
    ]
    return [
        {
            "event_id": f"{s['agent_id']}:{at}:{state}",
            "event_type": "agent.state_changed",
            "occurred_at": at,
            "tenant": s["tenant"],
            "agent_id": s["agent_id"],
            "customer_ids": [],
            "attributes": {"state": state},
        }
        for s, at, state in changes
    ]


def _field(name: str) -> Callable[[Mapping[str, Any]], str]:
    return lambda obj: obj[name]


def _land(
    settings: Settings,
    name: str,
    objects: list[dict[str, Any]],
    landed_at: Callable[[Mapping[str, Any]], str],
    partition: int,
) -> None:
    """One batch per landing day (``landed_at`` of its first record), offsets in order; the
    sink's landing splits each by business day."""
    by_day: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        by_day.setdefault(landed_at(obj)[:10], []).append(obj)
    offset = 0
    for members in (by_day[day] for day in sorted(by_day)):
        if name == "events":
            members = [{**e, "ts": parse_rfc3339(e["occurred_at"])} for e in members]
        landed_ms = round(parse_rfc3339(landed_at(members[0])) * 1000)
        land(
            settings,
            table_named(name),
            members,
            partition=partition,
            first_offset=offset,
            timestamp_ms=landed_ms,
        )
        offset += len(members)


def survey_row(event: dict[str, Any]) -> dict[str, Any]:
    """A canonical ``survey.completed`` event as a survey of ``build_int_layer``/``write_lake``."""
    scores = event["attributes"]
    return {
        "event_id": event["event_id"],
        "contact_id": event["contact_id"],
        "tenant": event["tenant"],
        "channel": event["channel"],
        "survey_at": event["occurred_at"],
        **{k: scores.get(k) for k in ("nps", "csat", "ces")},
    }


def state_spans(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The spans of canonical ``agent.state_changed`` events: a state lasts until the agent's
    next change (the last one: not counted, the agent logs off at the end of the run)."""
    by_agent: dict[str, list[dict[str, Any]]] = {}
    for change in sorted(changes, key=lambda e: (e["ts"], e["event_id"])):
        by_agent.setdefault(change["agent_id"], []).append(change)
    return [
        {
            "agent_id": agent,
            "tenant": change["tenant"],
            "state": change["attributes"]["state"],
            "started_at": change["occurred_at"],
            "ended_at": following["occurred_at"],
        }
        for agent, ordered in by_agent.items()
        for change, following in pairwise(ordered)
    ]


def write_simulated_lake(settings: Settings, simulation: Simulation) -> int:
    """Land what the stream makes of ``simulation`` (a run without faults) in the lake of
    ``settings``, without a broker: its contacts and journeys, surveys and agent states, as
    ``write_lake`` does; how many contacts."""
    wanted = {"survey.completed", "agent.state_changed"}
    events = [
        canonicalise(event, settings.pii_key)
        for event in map(orjson.loads, simulation.messages())
        if event.get("event_type") in wanted
    ]
    contacts = list(simulation.contact_facts())
    write_lake(
        settings,
        contacts,
        journeys=simulation.journey_facts(),
        surveys=[survey_row(e) for e in events if e["event_type"] == "survey.completed"],
        spans=state_spans([e for e in events if e["event_type"] == "agent.state_changed"]),
    )
    return len(contacts)


def small_centre() -> dict[str, Any]:
    """Two days of a small centre touching every KPI: ``write_lake`` / ``build_int_layer``
    keyword arguments (contacts first)."""
    contacts = [
        handled_call("v1", "2026-01-05T09:00:00", customer="ann", hold=30.0, warm=1),
        handled_call("v2", "2026-01-05T09:20:00", customer="ben", answered=25.0),
        contact("v3", "2026-01-05T10:00:00", customer="cid", abandoned=40.0),
        contact("v4", "2026-01-05T10:05:00", customer="dee", abandoned=2.0),
        contact(
            "v5", "2026-01-05T11:00:00", customer="eva", queued=None, deflection="self_service"
        ),
        contact(
            "c1",
            "2026-01-05T23:40:00",
            channel="chat",
            customer="ann",
            queue="acme.chat",
            agent="agent-2",
            answered=50.0,
            ended=400.0,
            wrapped=420.0,
            disposition="resolved",
        ),
        contact(
            "e1",
            "2026-01-06T08:00:00",
            channel="email",
            customer="ben",
            queue="acme.mail",
            agent="agent-3",
            answered=3600.0,
            ended=3601.0,
            wrapped=3700.0,
            disposition="escalated",
        ),
        handled_call("v6", "2026-01-06T09:00:00", customer="fox", cold=1, cancellation_intent=True),
        handled_call("v7", "2026-01-06T09:30:00", customer=None, disposition="unresolved"),
    ]
    return {
        "contacts": contacts,
        "surveys": [
            survey("s1", "v1", "2026-01-05T09:10:00", nps=10, csat=5, ces=7),
            survey("s2", "v2", "2026-01-05T09:30:00", nps=3, csat=2, ces=2),
            survey("s3", "c1", "2026-01-06T00:00:30", nps=8, csat=4, channel="chat"),
        ],
        "spans": [
            span("agent-1", "available", "2026-01-05T08:55:00", "2026-01-05T09:00:10"),
            span("agent-1", "busy", "2026-01-05T09:00:10", "2026-01-05T09:05:10"),
            span("agent-1", "after_contact_work", "2026-01-05T09:05:10", "2026-01-05T09:05:40"),
            span("agent-1", "available", "2026-01-05T09:05:40", "2026-01-05T09:20:25"),
            span("agent-2", "busy", "2026-01-05T23:40:50", "2026-01-06T00:06:40"),
        ],
        "events": [
            {
                "event_id": "opt-out-1",
                "event_type": "customer.opted_out",
                "occurred_at": utc("2026-01-06T12:00:00"),
                "tenant": "acme",
                "customer_ids": ["phone:ben"],
                "attributes": {"scope": "all"},
            }
        ],
    }
