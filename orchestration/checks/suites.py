"""The expectation suites on the warehouse views, and the rows each one validates.

Every suite reads the rows of the run's days (``$date_from``..``$date_to``; rows with no time at
all are in every run) and states what must hold for the KPI marts built from them to be right:
keys present and unique (an event or a contact counted twice inflates every count), values in
their ranges and enumerations, durations not negative, answers not before queueing, a day's
volume not collapsing against the same weekday a week earlier (closed days are normal), dead letters a small share of what landed.
Accepted values come from the event contract (``schemas``), not from copies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from schemas.models import Channel, Direction
from schemas.settings import Settings
from schemas.validation import event_type_names, schema_documents

if TYPE_CHECKING:
    import pandas as pd

# An epoch-millisecond expression within the run's days (epoch_ms: no session time zone).
_IN_RANGE = """(
    {ms} >= epoch_ms(cast($date_from as timestamp))
    and {ms} < epoch_ms(cast($date_to as timestamp) + interval 1 day)
)"""


def _in_range(time: str) -> str:
    return _IN_RANGE.format(ms=f"epoch_ms({time})")


def _of_days(columns: str, relation: str, time: str, day: str, undated: str = "") -> str:
    """``columns`` of the rows of ``relation`` whose ``time`` is in the run's days, and of the
    rows without one, which are in every run (``undated``: more to hold for those). ``day`` is
    a column holding the UTC day of ``time``, stored in the materialised day files: filtering
    on it too lets the scan read the run's days' files only, where a filter on ``time`` alone
    reads every day of the history (and an ``or`` of the two cannot reach the scan, hence two
    selects; docs/performance.md, The one-day refresh of a simulated month)."""
    return (
        f"select {columns} from {relation} "
        f"where {day} between $date_from and $date_to and {_in_range(time)} "
        f"union all select {columns} from {relation} where {time} is null{undated}"
    )


@dataclass(frozen=True)
class Suite:
    name: str  # of the GX suite and of the Dagster check
    asset: str  # the relation it validates
    description: str
    query: str  # its rows for the run's days
    expectations: Callable[[Settings], list]  # built when the check runs (GX loads lazily)
    # More metadata of a result, from the rows validated (e.g. which days a check flagged).
    details: Callable[[pd.DataFrame, Settings], dict[str, Any]] | None = None


@cache
def attribute_values(event_type: str, attribute: str) -> tuple[str, ...]:
    """The values the event contract accepts for one attribute of one event type."""
    properties = schema_documents()[event_type]["properties"]["attributes"]["properties"]
    return tuple(properties[attribute]["enum"])


def _unique(column: str) -> list:
    import great_expectations.expectations as gxe

    return [gxe.ExpectColumnValuesToBeUnique(column=column)]


def _unique_together(*columns: str) -> list:
    import great_expectations.expectations as gxe

    return [gxe.ExpectCompoundColumnsToBeUnique(column_list=list(columns))]


def _not_null(*columns: str) -> list:
    import great_expectations.expectations as gxe

    return [gxe.ExpectColumnValuesToNotBeNull(column=c) for c in columns]


def _in_set(column: str, values) -> list:
    import great_expectations.expectations as gxe

    return [gxe.ExpectColumnValuesToBeInSet(column=column, value_set=sorted(values))]


def _between(column: str, low: float | None = None, high: float | None = None) -> list:
    import great_expectations.expectations as gxe

    return [gxe.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high)]


def _events(_: Settings) -> list:
    # An event is its event_id within its contact or agent; the same id on two contacts is a
    # collision of their source, which the event_id_collisions suite reports.
    return [
        *_unique_together("event_id", "contact_id", "agent_id"),
        *_not_null("event_id", "event_type", "tenant", "occurred_at"),
        *_in_set("event_type", event_type_names()),
        *_in_set("channel", [c.value for c in Channel]),
        *_in_set("direction", [d.value for d in Direction]),
    ]


def _collisions(_: Settings) -> list:
    return _between("colliding_event_ids", 0, 0)


def _volume(settings: Settings) -> list:
    return _between("ratio_to_same_weekday", settings.checks.min_events_ratio_to_same_weekday)


def _volume_days(frame: pd.DataFrame, settings: Settings) -> dict[str, Any]:
    """The days whose volume collapsed against the same weekday a week earlier, with their
    counts, and the closed days (no event at all)."""
    ratio = frame["ratio_to_same_weekday"].astype("float64")
    flagged = frame[ratio < settings.checks.min_events_ratio_to_same_weekday]
    return {
        "flagged_days": [
            {
                "day": f"{row.day:%Y-%m-%d}",
                "events": int(row.events),
                "same_weekday_events": int(row.same_weekday_events),
            }
            for row in flagged.itertuples()
        ],
        "closed_days": [f"{row.day:%Y-%m-%d}" for row in frame.itertuples() if row.events == 0],
    }


def _contacts(_: Settings) -> list:
    import great_expectations.expectations as gxe

    return [
        *_unique("contact_id"),
        *_not_null("contact_id", "tenant", "channel"),
        *_in_set("channel", [c.value for c in Channel]),
        *_in_set("direction", [d.value for d in Direction]),
        *_in_set("status", ["open", "closed", "incomplete"]),
        *_in_set("disposition", attribute_values("contact.wrapped_up", "disposition")),
        *_in_set("deflection_cause", attribute_values("contact.deflected", "cause")),
        *_between("talk_seconds", 0),
        *_between("hold_seconds", 0),
        *_between("acw_seconds", 0),
        *_between("transfers", 0),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="answered_at",
            column_B="first_queued_at",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
        ),
    ]


def _surveys(_: Settings) -> list:
    return [
        *_unique_together("event_id", "contact_id"),
        *_not_null("event_id", "contact_id", "tenant"),
        *_between("nps", 0, 10),
        *_between("csat", 1, 5),
        *_between("ces", 1, 7),
    ]


def _spans(_: Settings) -> list:
    return [
        # ended_at is null for each agent's current state (no change after it yet)
        *_not_null("tenant", "agent_id", "state", "started_at"),
        *_in_set("state", attribute_values("agent.state_changed", "state")),
        *_between("seconds", 0),
    ]


def _journeys(_: Settings) -> list:
    return [
        *_unique("journey_id"),
        *_not_null("journey_id", "tenant", "customer_key", "first_contact_id"),
        *_between("contact_count", 1),
    ]


def _dead_letters(settings: Settings) -> list:
    return _between("dead_letter_share", 0, settings.checks.dead_letter_max_share)


SUITES = (
    Suite(
        "events_valid",
        "int_events",
        "Events unique (event_id within its contact or agent), keys present, event types, "
        "channels and directions of the contract.",
        _of_days(
            "event_id, contact_id, agent_id, event_type, tenant, channel, direction, occurred_at",
            "int_events",
            "occurred_at",
            "business_day",
        ),
        _events,
    ),
    Suite(
        "event_id_collisions",
        "int_event_id_collisions",
        "No event_id of the run's days is carried by two different events (contacts or agents): "
        "event ids are globally unique (events.md). int_events keeps both events; "
        "int_event_id_collisions lists them.",
        # A collision is in the runs of the days any of its events occurred on. Only the ids of
        # those days are looked up in the history (int_event_id_collisions groups every event).
        f"""
with run_ids as (
    {_of_days("event_id", "int_events", "occurred_at", "business_day")}
),

carriers as (
    select event_id, contact_id, agent_id from int_events
    where event_id in (select event_id from run_ids)
),

final as (
    select count(*) as colliding_event_ids
    from (
        select event_id from carriers
        group by event_id
        having count(distinct [contact_id, agent_id]) > 1
    )
)

select * from final
""",
        _collisions,
    ),
    Suite(
        "events_volume",
        "int_events",
        "Each day's events (up to the newest event's time of day) are at least "
        "checks.min_events_ratio_to_same_weekday of the same weekday's a week earlier over the "
        "same hours. A day without any event is a closed day (a closed Sunday, a holiday) and "
        "passes; so does a day whose same weekday a week earlier was closed. The metadata lists "
        "the days flagged and the closed days.",
        """
-- The run's days and the week before them: only their day files are read (business_day is
-- the UTC day of occurred_at), whatever the history held.
with events as (
    select occurred_at from int_events
    where business_day between cast($date_from as date) - 7 and $date_to
),

newest as (
    -- the newest event is at or after the run's first day; when none is, no day of the run is
    -- compared (each one's cutoff is not after its start)
    select coalesce(
        max(epoch_ms(occurred_at)), epoch_ms(cast($date_from as timestamp)) - 1
    ) as newest_ms
    from int_events
    where business_day >= $date_from
),

days as (
    select
        cast(d as date) as day,
        epoch_ms(d) as start_ms,
        least(epoch_ms(d + interval 1 day), n.newest_ms + 1) as cutoff_ms
    from range(cast($date_from as timestamp), cast($date_to as timestamp) + interval 1 day,
        interval 1 day) as t(d)
    cross join newest as n
),

counted as (
    select
        d.day,
        count(*) filter (
            where epoch_ms(e.occurred_at) >= d.start_ms and epoch_ms(e.occurred_at) < d.cutoff_ms
        ) as events,
        count(*) filter (
            where epoch_ms(e.occurred_at) >= d.start_ms - 7 * 86400000
                and epoch_ms(e.occurred_at) < d.cutoff_ms - 7 * 86400000
        ) as same_weekday_events
    from days as d
    left join events as e
        on (
            epoch_ms(e.occurred_at) >= d.start_ms and epoch_ms(e.occurred_at) < d.cutoff_ms
        ) or (
            epoch_ms(e.occurred_at) >= d.start_ms - 7 * 86400000
            and epoch_ms(e.occurred_at) < d.cutoff_ms - 7 * 86400000
        )
    where d.cutoff_ms > d.start_ms
    group by d.day
),

final as (
    select
        day,
        events,
        same_weekday_events,
        -- null (not checked) on a closed day, and when the same weekday a week earlier was
        case when events > 0 then events / nullif(same_weekday_events, 0) end
            as ratio_to_same_weekday
    from counted
)

select * from final order by day
""",
        _volume,
        _volume_days,
    ),
    Suite(
        "contacts_valid",
        "int_contacts",
        "Unique contact ids, enumerations of the contract, durations >= 0, answers not before "
        "queueing.",
        # a contact's time: its start, else its first queueing, else its answer
        _of_days(
            "contact_id, tenant, channel, direction, status, disposition, deflection_cause, "
            "talk_seconds, hold_seconds, acw_seconds, transfers, first_queued_at, answered_at",
            "int_contacts",
            "started_at",
            "started_day",
            undated=" and (coalesce(first_queued_at, answered_at) is null or "
            f"{_in_range('coalesce(first_queued_at, answered_at)')})",
        ),
        _contacts,
    ),
    Suite(
        "surveys_valid",
        "int_surveys",
        "Unique survey events (event_id within its contact), NPS 0-10, CSAT 1-5, CES 1-7.",
        "select event_id, contact_id, tenant, nps, csat, ces from int_surveys "
        f"where survey_at is null or {_in_range('survey_at')}",
        _surveys,
    ),
    Suite(
        "agent_spans_valid",
        "int_agent_state_spans",
        "Agent state spans with keys, states of the contract and durations >= 0 (by the UTC "
        "day they started).",
        "select tenant, agent_id, state, started_at, ended_at, seconds "
        "from int_agent_state_spans where day between $date_from and $date_to",
        _spans,
    ),
    Suite(
        "journeys_valid",
        "int_journeys",
        "Unique journey ids with their customer and first contact, at least one contact each.",
        _of_days(
            "journey_id, tenant, customer_key, first_contact_id, contact_count",
            "int_journeys",
            "first_started_at",
            "first_started_day",
        ),
        _journeys,
    ),
    Suite(
        "dead_letter_share",
        "int_dead_letters",
        "Dead letters of the run's days are at most checks.dead_letter_max_share of all messages "
        "of those days (dead letters + valid events), by business day: an event's occurred_at, a "
        "dead letter's own occurred_at when the message had a readable one, else the time it was "
        "first dead-lettered. A message replayed and rejected again counts once.",
        f"""
with dead_letters as (
    select epoch_ms(coalesce(occurred_at, _kafka_timestamp)) as business_ms
    from int_dead_letters
),

dead as (
    select count(*) as dead_letters from dead_letters where {_IN_RANGE.format(ms="business_ms")}
),

valid as (
    select count(*) as events from stg_events
    where business_day between $date_from and $date_to and {_in_range("occurred_at")}
),

final as (
    select
        dead.dead_letters,
        valid.events,
        dead.dead_letters / nullif(dead.dead_letters + valid.events, 0) as dead_letter_share
    from dead
    cross join valid
)

select * from final
""",
        _dead_letters,
    ),
)
