-- kpi_journeys: one row per stream journey (int_journeys) with what the KPI marts attribute it
-- to: the day its first contact started in its tenant's reporting time zone (that contact's
-- day in kpi_contacts; from kpi_time_zones when the contact is unknown to the warehouse), and
-- that contact's channel (else the journey's first), first queue and first agent.
-- A view: no storage, the grain of int_journeys; knob_set names the knobs (time zones) in use.
with knobs as (
    select * from kpi_knobs
),

journeys as (
    select * from int_journeys
),

final as (
    select
        j.journey_id,
        j.tenant,
        j.customer_key,
        j.first_contact_id,
        j.first_started_at,
        coalesce(
            c.day,
            cast(
                timezone(
                    coalesce(z.time_zone, 'UTC'),
                    timezone('UTC', make_timestamp(epoch_us(j.first_started_at)))
                ) as date
            )
        ) as day,
        coalesce(c.channel, j.channels[1]) as channel,
        c.queue,
        c.agent,
        j.contact_ids,
        j.contact_count,
        j.resolved_at_first_contact,
        j.first_contact_resolvable_in_one_contact,
        k.knob_set
    from journeys as j
    left join kpi_contacts as c on c.contact_id = j.first_contact_id
    left join kpi_time_zones as z on z.tenant = j.tenant
    cross join knobs as k
)

select * from final
