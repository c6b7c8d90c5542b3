-- mart_agent_occupancy_hourly: agent time per state for occupancy.v1
-- (busy + after_contact_work) / (busy + after_contact_work + available).
-- A state lasts until the agent's next state change and at most until the end of its UTC day:
-- int_agent_state_spans already holds such spans, one per day; here each span is cut at hour
-- boundaries, so that a span from 10:40 to 11:20 gives 20 minutes to each hour.
-- Grain: one row per UTC hour x tenant x agent x knob set, for the span days
-- $date_from..$date_to. Agents are blended across channels and queues: no such columns.
-- Units: seconds.
with knobs as (
    select * from kpi_knobs
),

spans as (
    select
        tenant,
        agent_id,
        state,
        day,
        epoch_us(started_at) as started_us,
        epoch_us(ended_at) as ended_us
    from int_agent_state_spans
    where day between $date_from and $date_to
        and state in ('busy', 'after_contact_work', 'available')
        and ended_at > started_at
),

hourly as (
    select
        s.*,
        unnest(range(s.started_us // 3600000000 * 3600000000, s.ended_us, 3600000000))
            as hour_us
    from spans as s
),

pieces as (
    select
        day,
        make_timestamp(hour_us) as hour,
        tenant,
        agent_id,
        state,
        (least(ended_us, hour_us + 3600000000) - greatest(started_us, hour_us)) / 1e6
            as seconds
    from hourly
),

final as (
    select
        p.day,
        p.hour,
        p.tenant,
        p.agent_id as agent,
        k.knob_set,
        coalesce(sum(p.seconds) filter (where p.state = 'busy'), 0) as busy_seconds,
        coalesce(sum(p.seconds) filter (where p.state = 'after_contact_work'), 0)
            as after_contact_work_seconds,
        coalesce(sum(p.seconds) filter (where p.state = 'available'), 0) as available_seconds
    from pieces as p
    cross join knobs as k
    group by p.day, p.hour, p.tenant, p.agent_id, k.knob_set
)

select * from final
