-- kpi_contacts: one row per contact of int_contacts with what the KPI marts derive from it
-- under the current knobs (kpi_knobs; a tenant's own over them: kpi_tenant_knobs). A view: no
-- storage, the grain of int_contacts.
-- Time attribution (kpis.md): a contact belongs to the day and hour it started in its tenant's
-- reporting time zone (kpi_time_zones; UTC for a tenant not listed); when its start event is
-- missing, to its first queueing, else its answer (as the stream's journeys do). day and hour
-- are the local wall-clock date and hour; hour_utc is the UTC instant the local hour started,
-- which tells apart the two hours labelled 02:00 on the day daylight saving time ends.
-- Units: *_ms are milliseconds (epoch milliseconds for instants), *_seconds seconds.
-- Inbound means "not outbound": a contact whose start event was lost has no direction, and
-- counts as inbound like in the journeys of streams/journeys.py.
with knobs as (
    select * from kpi_knobs
),

contacts as (
    select
        c.*,
        coalesce(z.time_zone, 'UTC') as time_zone,
        coalesce(c.started_at, c.first_queued_at, c.answered_at) as attributed_at,
        epoch_ms(c.first_queued_at) as queued_ms,
        epoch_ms(c.answered_at) as answered_ms,
        epoch_ms(c.abandoned_at) as abandoned_ms,
        epoch_ms(c.wrapped_up_at) as wrapped_ms
    from int_contacts as c
    left join kpi_time_zones as z on z.tenant = c.tenant
),

localised as (
    select
        *,
        -- The local wall-clock time, through epoch microseconds so that TIMESTAMP (UTC) and
        -- TIMESTAMPTZ inputs give the same whatever the session time zone. A UTC tenant's is
        -- the instant itself: the time zone conversion is skipped, it is most of this view's
        -- cost (CASE evaluates it for the other tenants' rows only).
        case
            when time_zone = 'UTC' then make_timestamp(epoch_us(attributed_at))
            else timezone(time_zone, timezone('UTC', make_timestamp(epoch_us(attributed_at))))
        end as attributed_local
    from contacts
),

timed as (
    select
        c.*,
        cast(c.attributed_local as date) as day,
        date_trunc('hour', c.attributed_local) as hour,
        -- the instant minus how far into its local hour it is
        make_timestamp(
            epoch_us(c.attributed_at)
            - (epoch_us(c.attributed_local) - epoch_us(date_trunc('hour', c.attributed_local)))
        ) as hour_utc,
        epoch_ms(c.attributed_at) as journey_start_ms,
        epoch_ms(coalesce(c.wrapped_up_at, c.ended_at, c.abandoned_at, c.attributed_at))
            as journey_end_ms,
        c.direction is distinct from 'outbound' as inbound,
        c.abandoned_at is not null
            and c.first_queued_at is not null
            and c.abandoned_ms - c.queued_ms
            < coalesce(t.short_abandon_seconds, k.short_abandon_seconds) * 1000
            as short_abandon_now,
        1000 * case c.channel
            when 'voice' then coalesce(t.service_level_voice_seconds, k.service_level_voice_seconds)
            when 'chat' then coalesce(t.service_level_chat_seconds, k.service_level_chat_seconds)
            when 'sms' then coalesce(t.service_level_sms_seconds, k.service_level_sms_seconds)
            when 'social'
                then coalesce(t.service_level_social_seconds, k.service_level_social_seconds)
            when 'email'
                then coalesce(t.service_level_email_seconds, k.service_level_email_seconds)
        end as sl_threshold_ms,
        k.knob_set
    from localised as c
    cross join knobs as k
    -- a tenant's own knobs ([tenants.NAME.kpis]) over the deployment's
    left join kpi_tenant_knobs as t on t.tenant = c.tenant
),

final as (
    select
        contact_id,
        tenant,
        channel,
        direction,
        inbound,
        first_queue as queue,
        first_agent as agent,
        customer_key,
        -- The customer a journey is built for: a contact nobody can attribute is its own
        -- customer, as in streams/journeys.py.
        coalesce(customer_key, 'anonymous:' || contact_id) as journey_customer,
        attributed_at,
        time_zone,
        day,
        hour,
        hour_utc,
        started_at,
        answered_at,
        disposition,
        resolvable_in_one_contact,
        cancellation_intent,
        deflected,
        deflection_cause,
        transfers,
        warm_transfers,
        cold_transfers,
        talk_seconds,
        hold_seconds,
        acw_seconds,
        journey_start_ms,
        journey_end_ms,
        wrapped_ms,
        sl_threshold_ms,
        knob_set,
        short_abandon_now as short_abandon,
        inbound and first_queued_at is not null and not short_abandon_now as offered,
        inbound and first_queued_at is not null and not short_abandon_now
            and abandoned_at is not null as abandoned,
        abandoned_ms - queued_ms as abandon_wait_ms,
        inbound and first_queued_at is not null and answered_at is not null as answered_after_queue,
        answered_ms - queued_ms as answer_wait_ms,
        inbound and answered_at is not null and ended_at is not null as handled,
        coalesce(talk_seconds, 0) + hold_seconds + coalesce(acw_seconds, 0) as handle_seconds,
        -- e-mail, chat, SMS and social: the first agent reply (contact.answered) after the start.
        case
            when inbound and channel <> 'voice' and answered_at is not null
                and started_at is not null
                then answered_ms - epoch_ms(started_at)
        end as first_response_ms,
        inbound and channel = 'voice' and started_at is not null as voice_started,
        -- Offered inbound contacts join journeys (kpis.md, Resolution); deflected ones are
        -- self-service and join none.
        inbound and not deflected
            and (
                (first_queued_at is not null and not short_abandon_now)
                or answered_at is not null
            ) as joins_journey
    from timed
)

select * from final
