-- mart_journeys_recomputed: journeys (kpis.md, Resolution) rebuilt in SQL from int_contacts,
-- in two scopes:
--   cross_channel: a customer's run of offered inbound contacts on every channel; the stream
--                  builds the same journeys (int_journeys), and a check compares the two;
--   per_channel:   the same per customer and channel, as a single-channel tool would see them
--                  (fcr_channel.v1).
-- A contact starts a new journey when it starts more than W (repeat_window_days) after the
-- previous contact of the customer [and channel] ended (at its wrap-up, else end, else abandon);
-- exactly W still repeats. Ties on start times are broken by contact_id, as in the stream.
-- A journey is named after its first contact (journey_id), as in the stream.
-- Grain: one row per scope x journey whose first contact started on $date_from..$date_to.
-- Units: contact_count in contacts; first_started_at a UTC instant; contact_ids (in order) only
-- in the cross_channel scope, where they are compared with the stream's.
with knobs as (
    select * from kpi_knobs
),

offered as (
    select * from kpi_contacts
    where joins_journey and journey_start_ms is not null
),

scoped as (
    select 'cross_channel' as scope, null as scope_channel, * from offered
    union all
    select 'per_channel' as scope, channel as scope_channel, * from offered
),

previous as (
    select
        s.*,
        lag(s.journey_end_ms) over (
            partition by s.scope, s.tenant, s.journey_customer, s.scope_channel
            order by s.journey_start_ms, s.contact_id
        ) as previous_end_ms
    from scoped as s
),

flagged as (
    select
        p.*,
        -- the first contact of a journey is where a new journey starts
        p.previous_end_ms is null
            or p.journey_start_ms - p.previous_end_ms > k.repeat_window_days * 86400000
            as first_of_journey
    from previous as p
    cross join knobs as k
),

journeys_of_contacts as (
    select
        n.*,
        -- a journey is named after its first contact, as the stream names it
        last_value(case when n.first_of_journey then n.contact_id end ignore nulls) over (
            partition by n.scope, n.tenant, n.journey_customer, n.scope_channel
            order by n.journey_start_ms, n.contact_id
            rows between unbounded preceding and current row
        ) as journey_id
    from flagged as n
),

journey_contacts as (
    select
        scope,
        journey_id,
        count(*) as contact_count,
        -- the contacts themselves only for the comparison with the stream's journeys
        list(contact_id order by journey_start_ms, contact_id)
            filter (where scope = 'cross_channel') as contact_ids
    from journeys_of_contacts
    group by scope, journey_id
),

final as (
    select
        f.scope,
        f.journey_id,
        f.tenant,
        f.journey_customer as customer_key,
        f.contact_id as first_contact_id,
        f.attributed_at as first_started_at,
        f.day,
        f.channel,
        f.queue,
        f.agent,
        j.contact_ids,
        j.contact_count,
        -- A first contact without a disposition (abandoned, timed out) is not resolved: false,
        -- not NULL.
        f.handled and coalesce(f.disposition = 'resolved', false) and j.contact_count = 1
            as resolved_at_first_contact,
        f.resolvable_in_one_contact as first_contact_resolvable_in_one_contact,
        k.knob_set
    from journeys_of_contacts as f
    inner join journey_contacts as j on j.scope = f.scope and j.journey_id = f.journey_id
    cross join knobs as k
    where f.first_of_journey and f.day between $date_from and $date_to
)

select * from final
