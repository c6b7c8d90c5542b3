"""What a report reads from the warehouse beyond the KPI values of ``warehouse.kpis``: the
reasons behind repeats, transfers and abandons, journeys that crossed channels, churn risk and
data quality. Counts only: no customer, identifier or message text leaves these queries.

Every query takes ``$first`` and ``$last`` (the period's days), ``$tenant`` (None: every
tenant) and, where it reads a mart or ``kpi_contacts``, ``$knob_set``: the rows of one knob set,
as ``kpi_values`` reads them. ``kpi_contacts`` is a view under the knobs of the last refresh, so
its rows carry that refresh's knob set: a report read under another set finds none there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb


def _of_tenant(column: str = "tenant") -> str:
    return f"($tenant::varchar is null or {column} = $tenant::varchar)"


_TENANT = _of_tenant()

# The journeys SQL rebuilds from the contacts (cross-channel scope), which the check
# stream_journeys_agree matches to the stream's, with their first contact's reason.
_JOURNEYS = f"""
journeys as (
    select j.*, c.reason as first_reason
    from mart_journeys_recomputed as j
    left join int_contacts as c on c.contact_id = j.first_contact_id
    where j.scope = 'cross_channel' and j.knob_set = $knob_set
        and j.day between $first and $last and {_of_tenant("j.tenant")}
)"""

# Inbound contacts of the period with their reason and status.
_CONTACTS = f"""
contacts as (
    select k.*, c.reason, c.status
    from kpi_contacts as k
    inner join int_contacts as c on c.contact_id = k.contact_id
    where k.knob_set = $knob_set and k.inbound and k.day between $first and $last
        and {_of_tenant("k.tenant")}
)"""

REPEATS_BY_REASON = f"""
with {_JOURNEYS},

final as (
    select
        first_reason as reason,
        count(*) as journeys,
        count(*) filter (where contact_count > 1) as repeated_journeys,
        sum(contact_count - 1) as repeat_contacts
    from journeys
    group by first_reason
)

select * from final order by repeat_contacts desc, journeys desc, reason nulls last
"""

TRANSFERS_BY_REASON = f"""
with {_CONTACTS},

final as (
    select
        reason,
        count(*) filter (where handled) as handled,
        count(*) filter (where handled and transfers > 0) as transferred,
        count(*) filter (where handled and warm_transfers > 0) as warm,
        count(*) filter (where handled and cold_transfers > 0) as cold
    from contacts
    group by reason
    having count(*) filter (where handled) > 0
)

select * from final order by transferred desc, handled desc, reason nulls last
"""

ABANDONS_BY_REASON = f"""
with {_CONTACTS},

final as (
    select
        reason,
        count(*) filter (where offered) as offered,
        count(*) filter (where abandoned) as abandoned
    from contacts
    group by reason
    having count(*) filter (where offered) > 0
)

select * from final order by abandoned desc, offered desc, reason nulls last
"""

# How long abandoning customers waited, against the channel's service-level threshold T:
# within T they gave up before the promise was broken.
ABANDONS_BY_WAIT = f"""
with {_CONTACTS},

final as (
    select
        channel,
        any_value(sl_threshold_ms) / 1000 as threshold_seconds,
        count(*) as abandoned,
        count(*) filter (where abandon_wait_ms <= sl_threshold_ms) as within_t,
        count(*) filter (
            where abandon_wait_ms > sl_threshold_ms and abandon_wait_ms <= 2 * sl_threshold_ms
        ) as t_to_2t,
        count(*) filter (
            where abandon_wait_ms > 2 * sl_threshold_ms and abandon_wait_ms <= 4 * sl_threshold_ms
        ) as t2_to_4t,
        count(*) filter (where abandon_wait_ms > 4 * sl_threshold_ms) as over_4t
    from contacts
    where abandoned
    group by channel
)

select * from final order by abandoned desc, channel
"""

CROSSED_BY_CHANNEL = f"""
with {_JOURNEYS},

journey_channels as (
    select j.tenant, j.journey_id, j.channel, count(distinct c.channel) as channels
    from journeys as j
    cross join unnest(j.contact_ids) as ids (contact_id)
    inner join int_contacts as c on c.contact_id = ids.contact_id
    group by j.tenant, j.journey_id, j.channel
),

final as (
    select
        channel,
        count(*) as journeys,
        count(*) filter (where channels > 1) as crossed
    from journey_channels
    group by channel
)

select * from final order by channel
"""

_RISK = f"""
risk as (
    select * from mart_churn_risk
    where knob_set = $knob_set and {_TENANT}
)"""

CHURN_AS_OF = f"""
with {_RISK},

final as (
    select max(as_of_day) as as_of_day
    from risk
    where as_of_day between $first and $last
)

select * from final
"""

# $as_of: the period's last scored day; $before: the day before the period.
CHURN_COUNTS = f"""
with {_RISK},

flagged_before as (
    select tenant, customer_key from risk where as_of_day = $before and flagged
),

flagged_in_period as (
    select distinct tenant, customer_key
    from risk
    where as_of_day between $first and $last and flagged
),

final as (
    select
        (select count(*) from risk where as_of_day = $as_of and flagged) as flagged,
        (
            select count(*) from flagged_in_period as f
            anti join flagged_before as b
                on b.tenant = f.tenant and b.customer_key = f.customer_key
        ) as newly_flagged,
        (select count(*) from flagged_before) as flagged_before
)

select * from final
"""

CHURN_SIGNALS = f"""
with {_RISK},

final as (
    select signal, count(*) as customers
    from risk
    cross join unnest(risk.signals) as raised (signal)
    where as_of_day = $as_of and flagged
    group by signal
)

select * from final order by customers desc, signal
"""

DEAD_LETTERS = f"""
with final as (
    select count(*) as dead_letters
    from int_dead_letters
    where business_day between $first and $last and {_TENANT}
)

select * from final
"""

EVENTS = f"""
with final as (
    select count(*) as events
    from int_events
    where business_day between $first and $last and {_TENANT}
)

select * from final
"""

NEWEST_EVENT = f"""
with final as (
    select max(occurred_at) as newest from int_events where {_TENANT}
)

select * from final
"""

CONTACT_STATUSES = f"""
with {_CONTACTS},

final as (
    select
        count(*) as contacts,
        count(*) filter (where status = 'incomplete') as incomplete,
        count(*) filter (where status = 'open') as still_open
    from contacts
)

select * from final
"""

SURVEYS_WITHOUT_CONTACT = f"""
with final as (
    select coalesce(sum(surveys_without_contact), 0) as surveys_without_contact,
        coalesce(sum(surveys), 0) as surveys
    from mart_survey_kpis_daily
    where knob_set = $knob_set and day between $first and $last and {_TENANT}
)

select * from final
"""

DAYS_WITH_CONTACTS = f"""
with final as (
    select distinct day
    from mart_contact_kpis_hourly
    where knob_set = $knob_set and day between $first and $last and {_TENANT}
)

select * from final order by day
"""

JOURNEY_TENANTS = """
with final as (
    select journey_id, tenant from int_journeys where list_contains($ids, journey_id)
    union
    select journey_id, tenant from mart_journeys_recomputed where list_contains($ids, journey_id)
)

select * from final
"""


@dataclass(frozen=True)
class Scope:
    """The rows a report reads: its days, its tenant (None: all) and its knob set."""

    first: date
    last: date
    tenant: str | None
    knob_set: str

    def params(self, **more: Any) -> dict[str, Any]:
        return {
            "first": self.first,
            "last": self.last,
            "tenant": self.tenant,
            "knob_set": self.knob_set,
            **more,
        }


def rows(con: duckdb.DuckDBPyConnection, sql: str, scope: Scope, **more: Any) -> list[dict]:
    """The rows of a query of this module as dicts, its parameters those of ``scope``."""
    params = scope.params(**more)
    used = {name: value for name, value in params.items() if f"${name}" in sql}
    result = con.execute(sql, used)
    names = [column[0] for column in result.description]
    return [dict(zip(names, values, strict=True)) for values in result.fetchall()]
