-- kpi_outbound_attempts: every dialer attempt (outbound.attempted) with its contact's outcome
-- and what the outbound marts count, under the current knobs (kpi_knobs). A view.
-- Grain: one row per outbound.attempted event of int_events (duplicates removed).
-- Outbound KPIs are kept apart from the inbound ones (kpis.md, Scope): no attempt or outbound
-- contact is in kpi_contacts' offered, handled or AHT.
-- campaign, dialer (predictive, preview, manual) and result (connected, no_answer, busy,
-- voicemail, failed) are the event's attributes, null when the dialer did not send them;
-- right_party is the attribute `right_party` when the dialer sends a boolean (a right-party
-- contact: the person the campaign meant to reach answered), else null (unknown).
-- customer_key is the stitched customer of the attempt's contact (int_contacts), else of the
-- event's own identifiers. A contact may hold several attempts (a redial): its last attempt by
-- event time (last_attempt) carries the contact's outcome.
-- connected: the result is `connected`. abandoned: a connected last attempt that no agent
-- answered once its contact ended or was abandoned: the callee picked up and nobody spoke (an
-- abandoned call in the dialer regulations' sense). handled: a connected last attempt answered
-- by an agent and ended; its handle time is talk + hold + after-contact work, as aht.v1's.
-- Time attribution: an attempt belongs to the day its event happened in its tenant's reporting
-- time zone (kpi_time_zones; UTC for a tenant not listed).
-- Units: attempted_at a TIMESTAMP in UTC; *_seconds seconds.
with knobs as (
    select * from kpi_knobs
),

attempts as (
    select
        *,
        row_number() over (
            partition by contact_id order by occurred_at desc, event_id desc
        ) = 1 as last_attempt
    from int_events
    where event_type = 'outbound.attempted'
),

event_keys as (
    select a.event_id, a.contact_id, min(k.customer_key) as customer_key
    from attempts as a
    cross join unnest(a.customer_ids) as ids (identifier)
    inner join int_customer_keys as k on k.tenant = a.tenant and k.identifier = ids.identifier
    group by a.event_id, a.contact_id
),

joined as (
    select
        a.event_id,
        a.tenant,
        a.channel,
        a.contact_id,
        coalesce(c.customer_key, k.customer_key) as customer_key,
        a.attributes ->> 'campaign' as campaign,
        a.attributes ->> 'dialer' as dialer,
        a.attributes ->> 'result' as result,
        case
            when json_type(a.attributes, '$.right_party') = 'BOOLEAN'
                then cast(a.attributes ->> 'right_party' as boolean)
        end as right_party,
        a.occurred_at as attempted_at,
        coalesce(z.time_zone, 'UTC') as time_zone,
        a.last_attempt,
        -- the contact's outcome, on its last attempt only
        case when a.last_attempt then c.answered_at end as answered_at,
        case when a.last_attempt then c.abandoned_at end as abandoned_at,
        case when a.last_attempt then c.ended_at end as ended_at,
        case when a.last_attempt then c.talk_seconds end as talk_seconds,
        case when a.last_attempt then c.hold_seconds end as hold_seconds,
        case when a.last_attempt then c.acw_seconds end as acw_seconds
    from attempts as a
    left join int_contacts as c on c.contact_id = a.contact_id
    left join event_keys as k on k.event_id = a.event_id and k.contact_id = a.contact_id
    left join kpi_time_zones as z on z.tenant = a.tenant
),

localised as (
    select
        *,
        coalesce(result = 'connected', false) as connected,
        -- the local wall-clock time, as kpi_contacts computes it
        timezone(time_zone, timezone('UTC', make_timestamp(epoch_us(attempted_at))))
            as attempted_local
    from joined
),

final as (
    select
        a.event_id,
        a.tenant,
        a.channel,
        a.contact_id,
        a.customer_key,
        a.campaign,
        a.dialer,
        a.result,
        a.right_party,
        a.attempted_at,
        a.time_zone,
        cast(a.attempted_local as date) as day,
        a.last_attempt,
        a.connected,
        a.connected and a.last_attempt and a.answered_at is null
            and (a.abandoned_at is not null or a.ended_at is not null) as abandoned,
        a.connected and a.last_attempt and a.answered_at is not null
            and a.ended_at is not null as handled,
        coalesce(a.talk_seconds, 0) + coalesce(a.hold_seconds, 0) + coalesce(a.acw_seconds, 0)
            as handle_seconds,
        a.talk_seconds,
        a.hold_seconds,
        a.acw_seconds,
        k.knob_set
    from localised as a
    cross join knobs as k
)

select * from final
