-- mart_outbound_kpis_daily: counts and sums of the outbound KPIs (docs/outbound.md): attempts,
-- connect rate, right-party contacts where the dialer says, abandoned outbound calls and
-- outbound handle time, per campaign and dialer mode, apart from the inbound KPIs.
-- Grain: one row per day the attempts happened x tenant x campaign x dialer x knob set, for
-- the days $date_from..$date_to (the tenant's reporting days: kpi_outbound_attempts).
-- Units: counts of attempts; *_seconds_sum are sums of seconds. Every column adds up over rows:
-- connect rate = connected / attempts, right-party rate = right_party_contacts /
-- right_party_known, outbound abandon rate = abandoned / connected, outbound handle time =
-- handle_seconds_sum / handled, over any range or roll-up.
with attempts as (
    select * from kpi_outbound_attempts
    where day between $date_from and $date_to
),

final as (
    select
        day,
        tenant,
        campaign,
        dialer,
        knob_set,
        count(*) as attempts,
        count(*) filter (where connected) as connected,
        count(*) filter (where result = 'no_answer') as no_answer,
        count(*) filter (where result = 'busy') as busy,
        count(*) filter (where result = 'voicemail') as voicemail,
        count(*) filter (where result = 'failed') as failed,
        count(*) filter (where connected and right_party is not null) as right_party_known,
        count(*) filter (where connected and right_party) as right_party_contacts,
        count(*) filter (where abandoned) as abandoned,
        count(*) filter (where handled) as handled,
        coalesce(sum(handle_seconds) filter (where handled), 0) as handle_seconds_sum,
        coalesce(sum(talk_seconds) filter (where handled), 0) as talk_seconds_sum,
        coalesce(sum(hold_seconds) filter (where handled), 0) as hold_seconds_sum,
        coalesce(sum(acw_seconds) filter (where handled), 0) as acw_seconds_sum
    from attempts
    group by day, tenant, campaign, dialer, knob_set
)

select * from final
