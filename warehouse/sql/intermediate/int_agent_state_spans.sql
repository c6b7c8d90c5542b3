-- int_agent_state_spans: the time agents spent in each state (for occupancy.v1).
-- Grain: one row per agent state span. A state starts at its agent.state_changed event and
-- lasts until the agent's next state change, and at most until the end of the UTC day it
-- started (kpis.md, occupancy.v1): the part of a span past midnight is not counted, and the
-- agent's last state (no change after it yet) ends at the end of its day.
-- Units: started_at/ended_at are TIMESTAMPs in UTC, seconds = ended_at - started_at in seconds,
-- day the UTC DATE the span started.
with changes as (
    select
        tenant,
        agent_id,
        attributes ->> 'state' as state,
        occurred_at as changed_at,
        lead(occurred_at) over (
            partition by tenant, agent_id order by occurred_at, event_id
        ) as next_changed_at
    from int_events
    where event_type = 'agent.state_changed' and agent_id is not null and occurred_at is not null
),

spans as (
    select
        *,
        least(
            coalesce(next_changed_at, date_trunc('day', changed_at) + interval 1 day),
            date_trunc('day', changed_at) + interval 1 day
        ) as span_end
    from changes
),

final as (
    select
        tenant,
        agent_id,
        state,
        changed_at as started_at,
        span_end as ended_at,
        epoch(span_end) - epoch(changed_at) as seconds,
        cast(changed_at as date) as "day"
    from spans
)

select * from final
