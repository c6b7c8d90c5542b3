-- kpi_opt_outs: every do-not-contact request (customer.opted_out) with its stitched customer.
-- A view. Grain: one row per customer.opted_out event of int_events (duplicates removed).
-- scope is the attribute `scope`: `all` (no contact at all) or the campaign it names; a request
-- without a scope is taken as `all` (the cautious reading of a do-not-contact request).
-- customer_key is the stitched customer of the event's identifiers (the smallest key among
-- them, as int_contacts); null when it has none or only hubs: such a request matches no
-- attempt (mart_opt_out_violations).
-- knob_set: the current knobs' (kpi_knobs), as every row of the marts' layer; no knob changes
-- these rows.
-- Units: opted_out_at a TIMESTAMP in UTC.
with opt_outs as (
    select * from int_events
    where event_type = 'customer.opted_out'
),

keys as (
    select o.event_id, o.contact_id, min(k.customer_key) as customer_key
    from opt_outs as o
    cross join unnest(o.customer_ids) as ids (identifier)
    inner join int_customer_keys as k on k.tenant = o.tenant and k.identifier = ids.identifier
    group by o.event_id, o.contact_id
),

final as (
    select
        o.event_id,
        o.tenant,
        o.channel,
        o.contact_id,
        o.occurred_at as opted_out_at,
        coalesce(nullif(o.attributes ->> 'scope', ''), 'all') as scope,
        k.customer_key,
        knobs.knob_set
    from opt_outs as o
    left join keys as k
        on k.event_id = o.event_id and k.contact_id is not distinct from o.contact_id
    cross join kpi_knobs as knobs
)

select * from final
