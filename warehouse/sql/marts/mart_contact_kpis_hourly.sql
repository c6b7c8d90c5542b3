-- mart_contact_kpis_hourly: counts and sums of the contact-handling KPIs (offered.v1, asa.v1,
-- service_level.v1, abandon_rate.v1, aht.v1, transfer_rate.v1, ivr_containment.v1).
-- Grain: one row per hour the contacts started x tenant x channel x queue (first queue)
-- x agent (first agent) x knob set, for the days $date_from..$date_to. Days and hours are the
-- tenant's reporting time zone's (kpi_contacts): day and hour the local date and wall-clock
-- hour, hour_utc the UTC instant that hour started (two rows share hour 02:00 on the day
-- daylight saving time ends, never hour_utc).
-- Units: counts of contacts; *_seconds_sum are sums of seconds. Every column adds up over rows,
-- so any range or roll-up is recomputed exactly from sums (never an average of averages).
-- Knobs baked in (kpi_knobs, named by knob_set): the short-abandon threshold and the service
-- level threshold T of each channel; the abandon treatment is applied when reading.
with contacts as (
    select * from kpi_contacts
    where day between $date_from and $date_to
),

final as (
    select
        day,
        hour,
        hour_utc,
        tenant,
        channel,
        queue,
        agent,
        knob_set,
        count(*) filter (where inbound) as inbound_contacts,
        count(*) filter (where offered) as offered,
        count(*) filter (where inbound and short_abandon) as short_abandons,
        count(*) filter (where abandoned) as abandoned,
        -- for the `positive` treatment: abandons within T count as met
        count(*) filter (where abandoned and abandon_wait_ms <= sl_threshold_ms)
            as abandoned_within_threshold,
        count(*) filter (where answered_after_queue) as answered,
        coalesce(sum(answer_wait_ms) filter (where answered_after_queue), 0) / 1000
            as answer_wait_seconds_sum,
        -- a contact answered at exactly T meets it
        count(*) filter (where answered_after_queue and answer_wait_ms <= sl_threshold_ms)
            as answered_within_threshold,
        count(*) filter (where handled) as handled_contacts,
        coalesce(sum(handle_seconds) filter (where handled), 0) as handle_seconds_sum,
        coalesce(sum(talk_seconds) filter (where handled), 0) as talk_seconds_sum,
        coalesce(sum(hold_seconds) filter (where handled), 0) as hold_seconds_sum,
        coalesce(sum(acw_seconds) filter (where handled), 0) as acw_seconds_sum,
        count(*) filter (where handled and transfers > 0) as transferred_contacts,
        count(*) filter (where handled and warm_transfers > 0) as warm_transferred_contacts,
        count(*) filter (where handled and cold_transfers > 0) as cold_transferred_contacts,
        count(*) filter (where voice_started) as voice_contacts_started,
        count(*) filter (where voice_started and deflected) as voice_deflected,
        count(*) filter (
            where voice_started and deflected and deflection_cause = 'front_end_message'
        ) as voice_deflected_front_end_message,
        count(*) filter (
            where voice_started and deflected and deflection_cause = 'self_service'
        ) as voice_deflected_self_service,
        count(*) filter (
            where voice_started and deflected and deflection_cause = 'ivr_menu'
        ) as voice_deflected_ivr_menu
    from contacts
    group by day, hour, hour_utc, tenant, channel, queue, agent, knob_set
)

select * from final
