-- mart_survey_kpis_daily: counts and sums of the survey KPIs (nps.v1, csat.v1, ces.v1).
-- Grain: one row per day x tenant x channel x queue x agent x knob set, for the days
-- $date_from..$date_to. A survey is attributed to its contact's day, channel, first queue and
-- first agent (kpis.md); a survey whose contact is unknown to the warehouse keeps its own
-- channel and the day it was completed in its tenant's reporting time zone (kpi_time_zones;
-- UTC for a tenant not listed), with no queue or agent. Surveys of outbound
-- contacts are left out, as every contact KPI counts inbound contacts only.
-- Units: counts of answers; *_sum are sums of scores (csat 1-5, ces 1-7).
with knobs as (
    select * from kpi_knobs
),

surveys as (
    select
        s.event_id,
        s.tenant,
        c.contact_id is not null as has_contact,
        coalesce(
            c.day,
            cast(
                timezone(
                    coalesce(z.time_zone, 'UTC'),
                    timezone('UTC', make_timestamp(epoch_us(s.survey_at)))
                ) as date
            )
        ) as day,
        coalesce(c.channel, s.channel) as channel,
        c.queue,
        c.agent,
        s.nps,
        s.csat,
        s.ces
    from int_surveys as s
    left join kpi_contacts as c on c.contact_id = s.contact_id
    left join kpi_time_zones as z on z.tenant = s.tenant
    where c.inbound is distinct from false
),

final as (
    select
        s.day,
        s.tenant,
        s.channel,
        s.queue,
        s.agent,
        k.knob_set,
        count(*) as surveys,
        count(*) filter (where not s.has_contact) as surveys_without_contact,
        count(s.nps) as nps_responses,
        count(*) filter (where s.nps >= 9) as promoters,
        count(*) filter (where s.nps <= 6) as detractors,
        count(s.csat) as csat_responses,
        count(*) filter (where s.csat >= 4) as csat_satisfied,
        coalesce(sum(s.csat), 0) as csat_sum,
        count(s.ces) as ces_responses,
        count(*) filter (where s.ces >= 5) as ces_easy,
        coalesce(sum(s.ces), 0) as ces_sum
    from surveys as s
    cross join knobs as k
    where s.day between $date_from and $date_to
    group by s.day, s.tenant, s.channel, s.queue, s.agent, k.knob_set
)

select * from final
