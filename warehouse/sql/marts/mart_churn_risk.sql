-- mart_churn_risk: the churn-risk score of kpis.md, per customer and as-of day.
-- For an as-of day D the look-back window is [end of D - lookback_days, end of D), the end of D
-- being midnight in the tenant's reporting time zone (kpi_time_zones; UTC for a tenant not
-- listed) and lookback_days a duration of 24-hour days; a signal
-- counts the customer's inbound contacts that started in it (a survey through its contact,
-- once completed before the end of D), and opt-outs made in it. Signals and default weights:
--   nps_detractor (NPS 0-6), csat_1_2, ces_1_3, unresolved_journey (a journey started in the
--   window with >= 3 contacts whose last contact is not resolved), abandons (>= 2 abandoned
--   contacts, short abandons left out), escalation_unresolved_48h (an escalated contact and no
--   resolved contact of the customer wrapped up in the 48 h after it, once 48 h have passed),
--   cancellation_intent (contact reason or message text), opted_out.
-- score = min(100, sum of the weights of the signals raised); flagged when score >= threshold.
-- Customers are stitched customer keys; contacts nobody can attribute raise nothing.
-- The thresholds are the rules of schemas/churn.py, given as parameters ($nps_max, $csat_max,
-- $ces_max, $abandons_min, $journey_contacts_min, $escalation_ms: warehouse.kpi_marts), so
-- that they are written once for this mart and the stream's live scoring.
-- Grain: one row per as-of day ($date_from..$date_to) x tenant x customer with a score > 0.
-- Units: score in points (0-100); signals lists the signals raised, heaviest first.
with knobs as (
    select * from kpi_knobs
),

contacts as (
    select * from kpi_contacts
    where inbound and customer_key is not null
),

-- materialized: filtered before their lists are unnested, not after
opt_outs as materialized (
    select tenant, epoch_ms(occurred_at) as at_ms, customer_ids
    from int_events
    where event_type = 'customer.opted_out'
),

tenants as (
    select distinct t.tenant, coalesce(z.time_zone, 'UTC') as time_zone
    from (select tenant from contacts union select tenant from opt_outs) as t
    left join kpi_time_zones as z on z.tenant = t.tenant
),

-- per tenant, since each tenant's day ends at its own midnight
as_of_days as (
    select
        t.tenant,
        cast(d as date) as as_of_day,
        epoch_ms(timezone(t.time_zone, d + interval 1 day)) as end_ms,
        epoch_ms(timezone(t.time_zone, d + interval 1 day))
            - k.churn_lookback_days * 86400000::bigint as since_ms
    from range(cast($date_from as timestamp), cast($date_to as timestamp) + interval 1 day,
        interval 1 day) as r(d)
    cross join tenants as t
    cross join knobs as k
),

long_journeys as materialized (
    select tenant, customer_key, journey_id, contact_ids
    from int_journeys
    where contact_count >= $journey_contacts_min
),

-- one row per fact that can raise a signal: when its contact started (or the opt-out happened)
facts as (
    select c.tenant, c.customer_key, c.journey_start_ms as at_ms, 'nps_detractor' as signal,
        epoch_ms(s.survey_at) as known_ms
    from int_surveys as s
    join contacts as c on c.contact_id = s.contact_id
    where s.nps <= $nps_max
    union all
    select c.tenant, c.customer_key, c.journey_start_ms, 'csat_1_2', epoch_ms(s.survey_at)
    from int_surveys as s
    join contacts as c on c.contact_id = s.contact_id
    where s.csat <= $csat_max
    union all
    select c.tenant, c.customer_key, c.journey_start_ms, 'ces_1_3', epoch_ms(s.survey_at)
    from int_surveys as s
    join contacts as c on c.contact_id = s.contact_id
    where s.ces <= $ces_max
    union all
    select tenant, customer_key, journey_start_ms, 'abandons', journey_start_ms
    from contacts
    where abandoned
    union all
    select tenant, customer_key, journey_start_ms, 'cancellation_intent', journey_start_ms
    from contacts
    where cancellation_intent
    union all
    select o.tenant, k.customer_key, o.at_ms, 'opted_out', o.at_ms
    from opt_outs as o
    cross join unnest(o.customer_ids) as i(identifier)
    join int_customer_keys as k on k.tenant = o.tenant and k.identifier = i.identifier
),

escalations as (
    select
        e.tenant,
        e.customer_key,
        e.journey_start_ms as at_ms,
        e.wrapped_ms + $escalation_ms as overdue_ms,
        exists (
            select 1
            from contacts as r
            where r.tenant = e.tenant
                and r.customer_key = e.customer_key
                and r.disposition = 'resolved'
                and r.wrapped_ms > e.wrapped_ms
                and r.wrapped_ms <= e.wrapped_ms + $escalation_ms
        ) as resolved_in_time
    from contacts as e
    where e.disposition = 'escalated' and e.wrapped_ms is not null
),

journey_contacts as (
    select j.tenant, j.customer_key, j.journey_id, c.journey_start_ms, c.contact_id, c.disposition
    from long_journeys as j
    cross join unnest(j.contact_ids) as u(contact_id)
    join kpi_contacts as c on c.contact_id = u.contact_id
),

journeys_as_of as (
    select
        d.as_of_day,
        j.tenant,
        j.customer_key,
        j.journey_id,
        min(j.journey_start_ms) as first_start_ms,
        count(*) as contacts_so_far,
        last(j.disposition order by j.journey_start_ms, j.contact_id) as last_disposition
    from as_of_days as d
    join journey_contacts as j on j.tenant = d.tenant and j.journey_start_ms < d.end_ms
    group by d.as_of_day, j.tenant, j.customer_key, j.journey_id
),

raised as (
    select d.as_of_day, f.tenant, f.customer_key, f.signal
    from as_of_days as d
    join facts as f
        on f.tenant = d.tenant
        and f.at_ms >= d.since_ms and f.at_ms < d.end_ms and f.known_ms < d.end_ms
    group by d.as_of_day, f.tenant, f.customer_key, f.signal
    having f.signal <> 'abandons' or count(*) >= $abandons_min
    union all
    select d.as_of_day, e.tenant, e.customer_key, 'escalation_unresolved_48h'
    from as_of_days as d
    join escalations as e
        on e.tenant = d.tenant
        and e.at_ms >= d.since_ms and e.at_ms < d.end_ms and e.overdue_ms <= d.end_ms
    where not e.resolved_in_time
    union all
    select j.as_of_day, j.tenant, j.customer_key, 'unresolved_journey'
    from journeys_as_of as j
    join as_of_days as d on d.tenant = j.tenant and d.as_of_day = j.as_of_day
    where j.first_start_ms >= d.since_ms
        and j.contacts_so_far >= $journey_contacts_min
        and j.last_disposition is distinct from 'resolved'
),

weighted as (
    select distinct
        r.as_of_day,
        r.tenant,
        r.customer_key,
        r.signal,
        case r.signal
            when 'nps_detractor' then k.churn_weight_nps_detractor
            when 'csat_1_2' then k.churn_weight_csat_1_2
            when 'ces_1_3' then k.churn_weight_ces_1_3
            when 'unresolved_journey' then k.churn_weight_unresolved_journey
            when 'abandons' then k.churn_weight_abandons
            when 'escalation_unresolved_48h' then k.churn_weight_escalation_unresolved_48h
            when 'cancellation_intent' then k.churn_weight_cancellation_intent
            when 'opted_out' then k.churn_weight_opted_out
        end as weight
    from raised as r
    cross join knobs as k
),

final as (
    select
        w.as_of_day,
        w.tenant,
        w.customer_key,
        cast(least(100, sum(w.weight)) as integer) as score,
        least(100, sum(w.weight)) >= any_value(k.churn_threshold) as flagged,
        -- heaviest first, then by name (sorting each short list beats an ordered aggregate)
        list_transform(
            list_sort(list({'lighter': -w.weight, 'signal': w.signal})), lambda x: x.signal
        ) as signals,
        any_value(k.churn_lookback_days) as lookback_days,
        any_value(k.churn_threshold) as threshold,
        k.knob_set
    from weighted as w
    cross join knobs as k
    where w.weight > 0
    group by w.as_of_day, w.tenant, w.customer_key, k.knob_set
)

select * from final
