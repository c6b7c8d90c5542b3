"""Reconciliations between the stream's results and their SQL recomputation in the marts."""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb

_JOURNEY_MISMATCHES = """
with stream as (
    select journey_id, contact_ids, resolved_at_first_contact
    from kpi_journeys
    where day between $date_from and $date_to
),

recomputed as (
    select journey_id, contact_ids, resolved_at_first_contact
    from mart_journeys_recomputed
    where scope = 'cross_channel' and day between $date_from and $date_to
        and knob_set = (select knob_set from kpi_knobs)
),

final as (
    select
        coalesce(s.journey_id, r.journey_id) as journey_id,
        s.contact_ids as stream_contact_ids,
        r.contact_ids as sql_contact_ids,
        s.resolved_at_first_contact as stream_resolved_at_first_contact,
        r.resolved_at_first_contact as sql_resolved_at_first_contact
    from stream as s
    full outer join recomputed as r on r.journey_id = s.journey_id
    where s.contact_ids is distinct from r.contact_ids
        or s.resolved_at_first_contact is distinct from r.resolved_at_first_contact
)

select * from final order by journey_id
"""


def journey_mismatches(
    con: duckdb.DuckDBPyConnection, date_from: date, date_to: date
) -> tuple[int, list[dict[str, Any]]]:
    """Compare the stream's journeys (``int_journeys``) with the SQL recomputation
    (``mart_journeys_recomputed``, cross-channel scope) for journeys whose first contact started
    on ``date_from``..``date_to`` (the tenants' reporting days, ``kpi_journeys``): (stream journeys compared, the journeys that differ).

    A journey present on one side only has None for the other side's columns. The recomputed
    journeys are those of the knob set of the last refresh (``kpi_knobs``); both must be built
    with the same repeat window and short-abandon threshold to agree.
    """
    days = {"date_from": date_from, "date_to": date_to}
    result = con.execute(_JOURNEY_MISMATCHES, days)
    names = [column[0] for column in result.description]
    mismatches = [dict(zip(names, row, strict=True)) for row in result.fetchall()]
    (compared,) = con.execute(
        "select count(*) from kpi_journeys where day between $date_from and $date_to",
        days,
    ).fetchone()
    return compared, mismatches
