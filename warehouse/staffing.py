"""The staffing requirement per interval (docs/staffing.md), from the KPI marts.

For each tenant, channel and hour of ``date_from..date_to``: the offered contacts and AHT
measured in ``mart_contact_kpis_hourly`` give the traffic in Erlangs; Erlang C
(``warehouse.erlang``) gives the fewest agents that meet the channel's service-level target
(threshold from ``[kpis]``, target from ``[targets]``), with the service level, ASA, P(wait) and
occupancy they would achieve, and ``[staffing] shrinkage`` the positions to schedule. Erlang A
adds abandons, with the patience measured from the range's waits (abandons per second waited).

Agents are blended across channels (``mart_agent_occupancy_hourly`` has no channel), so the
comparison with the agents logged in is per tenant and hour, on a row of channel ``ALL``: the
channel requirements added up (separate queues, no pooling between them: a conservative sum)
against the mean number of agents logged in (available, busy or in after-contact work; breaks
and offline not counted) over the hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from schemas import targets
from schemas.settings import Settings
from warehouse import erlang
from warehouse.arrow_rows import insert_columns
from warehouse.kpi_marts import mart_sql
from warehouse.kpis import current_knob_set

if TYPE_CHECKING:
    import duckdb

    from warehouse.forecast import ForecastRow

ALL = "all"
UNDER = "under"
OVER = "over"
OK = "ok"


@dataclass(frozen=True)
class Interval:
    """One interval of one tenant and channel (``ALL``: the tenant's channels added up,
    compared with the agents logged in): an hour, or a quarter or half hour whose local start
    ``hour`` and ``hour_utc`` hold. Erlang C figures are at ``required`` agents; ``*_a`` fields are
    Erlang A's (None without measured abandons, or on an ``ALL`` row)."""

    day: date
    hour: datetime
    hour_utc: datetime
    tenant: str
    channel: str
    offered: float  # contacts (a forecast's: a mean, not rounded)
    aht: float | None  # seconds
    traffic: float  # Erlangs
    threshold: float | None  # seconds
    target: float | None  # service-level fraction
    required: int
    service_level: float | None
    asa: float | None
    p_wait: float | None
    occupancy: float | None
    positions: int
    mean_patience: float | None = None
    required_a: int | None = None
    service_level_a: float | None = None
    p_abandon_a: float | None = None
    logged_in: float | None = None  # mean agents over the hour (ALL rows)
    status: str | None = None  # under | ok | over (ALL rows)


_CONTACTS = """
select day, hour, hour_utc, tenant, channel,
    sum(offered) as offered,
    sum(handled_contacts) as handled,
    sum(handle_seconds_sum) as handle_seconds
from mart_contact_kpis_hourly
where day between $date_from and $date_to and knob_set = $knob_set
group by all
having sum(offered) > 0
"""

# Exponential patience, censored by answers: abandons / seconds waited by every queued contact.
_PATIENCE = """
select tenant, channel,
    count(*) filter (where abandoned) as abandons,
    (coalesce(sum(answer_wait_ms) filter (where answered_after_queue), 0)
        + coalesce(sum(abandon_wait_ms) filter (where abandoned), 0)) / 1000 as waited
from kpi_contacts
where day between $date_from and $date_to and offered
group by all
"""

_LOGGED_IN = """
select day, hour, hour_utc, tenant,
    sum(busy_seconds + after_contact_work_seconds + available_seconds) / 3600 as logged_in
from mart_agent_occupancy_hourly
where day between $date_from and $date_to and knob_set = $knob_set
group by all
"""


# Finer intervals (15 or 30 minutes) from the per-contact view: the offered contacts and
# handle time of each local quarter or half hour (bucket: how far into its local hour it started).
_CONTACTS_BY_INTERVAL = """
select day,
    hour + to_minutes(bucket * $minutes) as hour,
    make_timestamp(epoch_us(hour_utc) + bucket * $minutes * 60000000) as hour_utc,
    tenant, channel,
    count(*) filter (where offered) as offered,
    count(*) filter (where handled) as handled,
    coalesce(sum(handle_seconds) filter (where handled), 0) as handle_seconds
from (
    select *,
        cast((epoch_us(attributed_at) - epoch_us(hour_utc)) // ($minutes * 60000000) as bigint)
            as bucket
    from kpi_contacts
    where day between $date_from and $date_to
)
group by all
having count(*) filter (where offered) > 0
"""

INTERVALS = (15, 30, 60)


def _logged_in_by_interval() -> str:
    """Agents logged in per local quarter or half hour: the occupancy mart's own SQL, its spans
    cut at ``$interval_us`` instead of hours."""
    return f"""
select day, hour, hour_utc, tenant,
    sum(busy_seconds + after_contact_work_seconds + available_seconds) / ($minutes * 60)
        as logged_in
from ({mart_sql("mart_agent_occupancy_hourly")})
group by all
"""


def staffing(
    con: duckdb.DuckDBPyConnection,
    date_from: date,
    date_to: date,
    settings: Settings,
    tenant: str | None = None,
    interval_minutes: int | None = None,
) -> list[Interval]:
    """Every interval of ``date_from..date_to`` (of ``tenant``, or all), channel rows then the
    tenant's ``ALL`` row per interval, in time order. Intervals are ``interval_minutes`` long
    (15, 30 or 60; default ``[staffing] interval_minutes``): hours come from the hourly marts
    under the settings' knob set, quarters and halves from ``kpi_contacts`` and the agent spans
    under the knobs the marts were last refreshed with."""
    minutes = interval_minutes or settings.staffing.interval_minutes
    if minutes not in INTERVALS:
        raise ValueError(f"the staffing interval is 15, 30 or 60 minutes, not {minutes}")
    params = {"date_from": date_from, "date_to": date_to, "knob_set": current_knob_set(settings)}
    if minutes == 60:
        contacts = _records(con, _CONTACTS, params)
        logged_in = _records(con, _LOGGED_IN, params)
    else:
        finer = {"date_from": date_from, "date_to": date_to, "minutes": minutes}
        contacts = _records(con, _CONTACTS_BY_INTERVAL, finer)
        logged_in = _records(
            con,
            _logged_in_by_interval(),
            {**finer, "interval_us": minutes * 60_000_000},
        )
    patience = {
        (r["tenant"], r["channel"]): r["waited"] / r["abandons"]
        for r in _records(con, _PATIENCE, {k: params[k] for k in ("date_from", "date_to")})
        if r["abandons"]
    }
    # AHT of an hour without a finished contact: the channel's over the range.
    handled: dict[tuple[str, str], list[float]] = {}
    for r in contacts:
        pair = handled.setdefault((r["tenant"], r["channel"]), [0, 0.0])
        pair[0] += r["handled"]
        pair[1] += r["handle_seconds"]
    hours: dict[tuple, list[Interval]] = {}
    for r in contacts:
        if tenant is not None and r["tenant"] != tenant:
            continue
        count, seconds = handled[(r["tenant"], r["channel"])]
        # None when no contact of the channel finished in the range: no traffic to size.
        fallback = seconds / count if count else None
        aht = r["handle_seconds"] / r["handled"] if r["handled"] else fallback
        key = (r["day"], r["hour"], r["hour_utc"], r["tenant"])
        hours.setdefault(key, []).append(
            _channel_interval(
                key, r["channel"], int(r["offered"]), aht, settings, patience, minutes
            )
        )
    logged = {
        (r["day"], r["hour"], r["hour_utc"], r["tenant"]): float(r["logged_in"])
        for r in logged_in
        if tenant is None or r["tenant"] == tenant
    }
    intervals: list[Interval] = []
    for key in sorted(set(hours) | set(logged), key=lambda k: (k[2], k[3])):
        channels = sorted(hours.get(key, []), key=lambda i: i.channel)
        intervals.extend(channels)
        intervals.append(_total(key, channels, logged.get(key, 0.0), settings))
    return intervals


def _channel_interval(
    key: tuple,
    channel: str,
    offered: float,
    aht: float | None,
    settings: Settings,
    patience: dict[tuple[str, str], float],
    minutes: int = 60,
) -> Interval:
    day, hour, hour_utc, tenant = key
    threshold = settings.kpis.service_level_seconds(channel)
    goal = targets.resolve(
        "service_level.v1", channel, settings.targets, settings.tenant(tenant).targets
    )
    target = goal.value if goal else 0.8
    traffic = offered * aht / (minutes * 60) if aht else 0.0
    c = erlang.required_agents_c(traffic, aht or 1.0, threshold, target)
    mean_patience = patience.get((tenant, channel))
    a = (
        erlang.required_agents_a(traffic, aht, threshold, target, mean_patience)
        if mean_patience and aht and traffic > 0
        else None
    )
    return Interval(
        day=day,
        hour=hour,
        hour_utc=hour_utc,
        tenant=tenant,
        channel=channel,
        offered=offered,
        aht=aht,
        traffic=traffic,
        threshold=threshold,
        target=target,
        required=c.agents,
        service_level=c.service_level,
        asa=c.asa,
        p_wait=c.p_wait,
        occupancy=c.occupancy,
        positions=erlang.positions(c.agents, settings.staffing.shrinkage),
        mean_patience=mean_patience,
        required_a=a.agents if a else None,
        service_level_a=a.service_level if a else None,
        p_abandon_a=a.p_abandon if a else None,
    )


def _total(
    key: tuple, channels: list[Interval], logged_in: float | None, settings: Settings
) -> Interval:
    """The tenant's ``ALL`` row of an hour; no comparison without ``logged_in`` (a forecast)."""
    day, hour, hour_utc, tenant = key
    required = sum(i.required for i in channels)
    return Interval(
        day=day,
        hour=hour,
        hour_utc=hour_utc,
        tenant=tenant,
        channel=ALL,
        offered=sum(i.offered for i in channels),
        aht=None,
        traffic=sum(i.traffic for i in channels),
        threshold=None,
        target=None,
        required=required,
        service_level=None,
        asa=None,
        p_wait=None,
        occupancy=sum(i.traffic for i in channels) / logged_in if logged_in else None,
        positions=erlang.positions(required, settings.staffing.shrinkage),
        logged_in=logged_in,
        status=None
        if logged_in is None
        else status(required, logged_in, settings.staffing.over_staffed_margin),
    )


def forecast_staffing(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    forecast: list[ForecastRow],
    history_from: date,
    history_to: date,
) -> list[Interval]:
    """The requirement of forecast hours (``warehouse.forecast.forecast_offered``): each
    hour's forecast offered contacts with the AHT and patience of its tenant and channel
    measured over ``history_from..history_to``; channel rows then the tenant's ``ALL`` row per
    hour, without agents logged in or a status. Hours forecast at 0 are left out."""
    params = {"date_from": history_from, "date_to": history_to}
    patience = {
        (r["tenant"], r["channel"]): r["waited"] / r["abandons"]
        for r in _records(con, _PATIENCE, params)
        if r["abandons"]
    }
    handled: dict[tuple[str, str], list[float]] = {}
    for r in _records(con, _CONTACTS, {**params, "knob_set": current_knob_set(settings)}):
        pair = handled.setdefault((r["tenant"], r["channel"]), [0, 0.0])
        pair[0] += r["handled"]
        pair[1] += r["handle_seconds"]
    hours: dict[tuple, list[Interval]] = {}
    for row in forecast:
        if row.offered <= 0:
            continue
        count, seconds = handled.get((row.tenant, row.channel), (0, 0.0))
        zone = ZoneInfo(settings.tenant(row.tenant).time_zone)
        hour_utc = row.hour.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)
        key = (row.hour.date(), row.hour, hour_utc, row.tenant)
        aht = seconds / count if count else None
        hours.setdefault(key, []).append(
            _channel_interval(key, row.channel, row.offered, aht, settings, patience)
        )
    intervals: list[Interval] = []
    for key in sorted(hours, key=lambda k: (k[2], k[3])):
        channels = sorted(hours[key], key=lambda i: i.channel)
        intervals += [*channels, _total(key, channels, None, settings)]
    return intervals


def status(required: int, logged_in: float, over_margin: float) -> str:
    """under: fewer agents logged in than required; over: more than ``over_margin`` beyond."""
    if logged_in < required:
        return UNDER
    if logged_in > required * (1 + over_margin) and logged_in - required >= 1:
        return OVER
    return OK


def _records(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> list[dict]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


# --- the warehouse side: the requirement of the refreshed days into a mart ---

_COLUMNS = (
    ("day", "date"),
    ("hour", "timestamp"),
    ("hour_utc", "timestamp"),
    ("tenant", "varchar"),
    ("channel", "varchar"),
    ("offered", "integer"),
    ("aht", "double"),
    ("traffic", "double"),
    ("threshold", "double"),
    ("target", "double"),
    ("required", "integer"),
    ("service_level", "double"),
    ("asa", "double"),
    ("p_wait", "double"),
    ("occupancy", "double"),
    ("positions", "integer"),
    ("mean_patience", "double"),
    ("required_a", "integer"),
    ("service_level_a", "double"),
    ("p_abandon_a", "double"),
    ("logged_in", "double"),
    ("status", "varchar"),
)


def create_staffing_table(con: duckdb.DuckDBPyConnection) -> None:
    """``mart_staffing_hourly``, empty, unless it exists."""
    columns = ", ".join(f"{name} {kind}" for name, kind in _COLUMNS)
    con.execute(
        f"create table if not exists mart_staffing_hourly ({columns}, knob_set varchar, "
        "shrinkage double)"
    )


def write_staffing(
    con: duckdb.DuckDBPyConnection, date_from: date, date_to: date, settings: Settings
) -> int:
    """Recompute the requirement of ``date_from..date_to`` into ``mart_staffing_hourly`` under
    the settings' knob set (its rows of other days and knob sets stay), in one transaction;
    how many rows those days have now."""
    create_staffing_table(con)
    knob_set = current_knob_set(settings)
    intervals = staffing(con, date_from, date_to, settings)
    incoming = {
        **{name: [getattr(i, name) for i in intervals] for name, _ in _COLUMNS},
        "knob_set": [knob_set] * len(intervals),
        "shrinkage": [settings.staffing.shrinkage] * len(intervals),
    }
    days = {"date_from": date_from, "date_to": date_to, "knob_set": knob_set}
    con.execute("begin transaction")
    try:
        con.execute(
            "delete from mart_staffing_hourly "
            "where day between $date_from and $date_to and knob_set = $knob_set",
            days,
        )
        insert_columns(con, "mart_staffing_hourly", incoming)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return len(intervals)
