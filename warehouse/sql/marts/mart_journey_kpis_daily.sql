-- mart_journey_kpis_daily: counts of the resolution KPIs (fcr.v1, fcr_net.v1, fcr_channel.v1,
-- repeat_rate.v1). A journey belongs to the day its first contact started in its tenant's
-- reporting time zone, and to that contact's tenant, channel, first queue and first agent
-- (kpi_journeys).
-- Gross journeys are the stream's (int_journeys); per-channel journeys come from
-- mart_journeys_recomputed (scope per_channel), so the gap between fcr.v1 and fcr_channel.v1 is
-- the omnichannel blind spot.
-- Grain: one row per day x tenant x channel x queue x agent x knob set, for the days
-- $date_from..$date_to. Units: counts of journeys and contacts.
with knobs as (
    select * from kpi_knobs
),

stream_journeys as (
    select * from kpi_journeys
    where day between $date_from and $date_to
),

channel_journeys as (
    select day, tenant, channel, queue, agent, resolved_at_first_contact
    from mart_journeys_recomputed
    where scope = 'per_channel' and day between $date_from and $date_to
        -- the journeys of this refresh's knobs, not those other knob sets left for these days
        and knob_set = (select knob_set from knobs)
),

counted as (
    select
        day,
        tenant,
        channel,
        queue,
        agent,
        1 as journeys,
        cast(resolved_at_first_contact as integer) as journeys_resolved_first_contact,
        cast(not first_contact_resolvable_in_one_contact as integer) as journeys_not_resolvable,
        contact_count as journey_contacts,
        0 as channel_journeys,
        0 as channel_journeys_resolved_first_contact
    from stream_journeys
    union all
    select
        day,
        tenant,
        channel,
        queue,
        agent,
        0,
        0,
        0,
        0,
        1,
        cast(resolved_at_first_contact as integer)
    from channel_journeys
),

final as (
    select
        c.day,
        c.tenant,
        c.channel,
        c.queue,
        c.agent,
        k.knob_set,
        sum(c.journeys) as journeys,
        sum(c.journeys_resolved_first_contact) as journeys_resolved_first_contact,
        -- fcr_net.v1 leaves out journeys whose first contact cannot be resolved in one contact
        sum(c.journeys_not_resolvable) as journeys_not_resolvable,
        sum(c.journey_contacts) as journey_contacts,
        sum(c.channel_journeys) as channel_journeys,
        sum(c.channel_journeys_resolved_first_contact) as channel_journeys_resolved_first_contact
    from counted as c
    cross join knobs as k
    group by c.day, c.tenant, c.channel, c.queue, c.agent, k.knob_set
)

select * from final
