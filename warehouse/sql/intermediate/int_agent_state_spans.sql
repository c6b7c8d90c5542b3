-- int_agent_state_spans: the time agents spent in each state (for occupancy.v1).
-- Grain: one row per agent state span. A state starts at its agent.state_changed event and
-- lasts until the agent's next state change; the agent's current state (no change after it
-- yet) has no end (ended_at and seconds NULL). The cut at the end of the day that occupancy.v1
-- makes (kpis.md) is the KPI mart's: the day is the tenant's reporting day
-- (mart_agent_occupancy_hourly).
-- Units: started_at/ended_at are TIMESTAMPs in UTC, seconds = ended_at - started_at in seconds,
-- day the UTC DATE the span started (the lake's day, which the data-quality checks select on).
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

final as (
    select
        tenant,
        agent_id,
        state,
        changed_at as started_at,
        next_changed_at as ended_at,
        epoch(next_changed_at) - epoch(changed_at) as seconds,
        cast(changed_at as date) as "day"
    from changes
)

select * from final
