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

-- Whether a contact of the refreshed days starts a journey depends on the contact before it
-- (by start) and its end; that contact, when it started before $date_from - 1 day (the
-- reporting time zones) - the repeat window - the longest contact, ended more than the window
-- before any contact of those days, so it changes nothing: a one-day refresh sorts the contacts
-- of those last days, not of the whole history. The later contacts are all kept (a journey
-- counts its contacts up to now).
recent as (
    select *
    from offered
    where journey_start_ms >= epoch_ms(cast($date_from as timestamp)) - 86400000
        - (select repeat_window_days from knobs) * 86400000
        - (select greatest(coalesce(max(journey_end_ms - journey_start_ms), 0), 0) from offered)
),

-- Each contact once (not once per scope, which doubled the rows sorted), with both scopes'
-- neighbours: the contact before and after it of the customer, and of the customer on its
-- channel. Its own columns ride along, rather than being joined back by contact id.
neighbours as (
    select
        contact_id,
        tenant,
        journey_customer,
        channel,
        journey_start_ms,
        journey_end_ms,
        attributed_at,
        day,
        queue,
        agent,
        handled,
        disposition,
        resolvable_in_one_contact,
        lag(journey_end_ms) over customer_contacts as previous_end_ms,
        lead(journey_start_ms) over customer_contacts as next_start_ms,
        lag(journey_end_ms) over channel_contacts as previous_channel_end_ms,
        lead(journey_start_ms) over channel_contacts as next_channel_start_ms
    from recent
    window
        customer_contacts as (
            partition by tenant, journey_customer order by journey_start_ms, contact_id
        ),
        channel_contacts as (
            partition by tenant, journey_customer, channel
            order by journey_start_ms, contact_id
        )
),

scoped as (
    select
        'cross_channel' as scope,
        null as scope_channel,
        contact_id,
        tenant,
        journey_customer,
        journey_start_ms,
        journey_end_ms,
        previous_end_ms,
        next_start_ms,
        channel,
        attributed_at,
        day,
        queue,
        agent,
        handled,
        disposition,
        resolvable_in_one_contact
    from neighbours
    union all
    select
        'per_channel',
        channel,
        contact_id,
        tenant,
        journey_customer,
        journey_start_ms,
        journey_end_ms,
        previous_channel_end_ms,
        next_channel_start_ms,
        channel,
        attributed_at,
        day,
        queue,
        agent,
        handled,
        disposition,
        resolvable_in_one_contact
    from neighbours
),

flagged as (
    select
        s.*,
        -- the first contact of a journey is where a new journey starts
        s.previous_end_ms is null
            or s.journey_start_ms - s.previous_end_ms > k.repeat_window_days * 86400000
            as first_of_journey,
        -- and the last one is followed by a first one (or by none)
        s.next_start_ms is null
            or s.next_start_ms - s.journey_end_ms > k.repeat_window_days * 86400000
            as last_of_journey
    from scoped as s
    cross join knobs as k
),

-- A contact that is both the first and the last of its journey is a journey of one contact,
-- the most common case: only the contacts of longer journeys are grouped into journeys.
longer as (
    select
        scope,
        contact_id,
        journey_start_ms,
        -- a journey is named after its first contact, as the stream names it
        last_value(case when first_of_journey then contact_id end ignore nulls) over (
            partition by scope, tenant, journey_customer, scope_channel
            order by journey_start_ms, contact_id
            rows between unbounded preceding and current row
        ) as journey_id
    from flagged
    where not (first_of_journey and last_of_journey)
),

longer_journeys as (
    select
        scope,
        journey_id,
        count(*) as contact_count,
        -- the contacts themselves only for the comparison with the stream's journeys, in
        -- order (sorting each short list beats an ordered aggregate)
        list_transform(
            list_sort(
                list({'start_ms': journey_start_ms, 'contact_id': contact_id})
                    filter (where scope = 'cross_channel')
            ),
            lambda x: x.contact_id
        ) as contact_ids
    from longer
    group by scope, journey_id
),

final as (
    select
        f.scope,
        f.contact_id as journey_id,
        f.tenant,
        f.journey_customer as customer_key,
        f.contact_id as first_contact_id,
        f.attributed_at as first_started_at,
        f.day,
        f.channel,
        f.queue,
        f.agent,
        case
            when f.last_of_journey and f.scope = 'cross_channel' then [f.contact_id]
            else j.contact_ids
        end as contact_ids,
        coalesce(j.contact_count, 1) as contact_count,
        -- A first contact without a disposition (abandoned, timed out) is not resolved: false,
        -- not NULL.
        f.handled and coalesce(f.disposition = 'resolved', false) and f.last_of_journey
            as resolved_at_first_contact,
        f.resolvable_in_one_contact as first_contact_resolvable_in_one_contact,
        k.knob_set
    from flagged as f
    left join longer_journeys as j on j.scope = f.scope and j.journey_id = f.contact_id
    cross join knobs as k
    where f.first_of_journey and f.day between $date_from and $date_to
)

select * from final
