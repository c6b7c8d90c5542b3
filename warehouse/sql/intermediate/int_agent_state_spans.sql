-- int_agent_state_spans: the time agents spent in each state (for occupancy.v1).
-- Grain: one row per agent state span and UTC day. A state starts at its agent.state_changed
-- event and lasts until the agent's next state change; a span crossing midnight is split into
-- one row per day; the agent's last state (no change after it yet) ends at the end of its day.
-- Units: started_at/ended_at are TIMESTAMPs in UTC, seconds = ended_at - started_at in seconds,
-- day the UTC DATE of the row.
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
        coalesce(next_changed_at, date_trunc('day', changed_at) + interval 1 day) as span_end
    from changes
),

days as (
    select spans.*, day_start
    from spans
    cross join unnest(range(date_trunc('day', changed_at), span_end, interval 1 day))
        as starts (day_start)
),

final as (
    select
        tenant,
        agent_id,
        state,
        greatest(changed_at, day_start) as started_at,
        least(span_end, day_start + interval 1 day) as ended_at,
        epoch(least(span_end, day_start + interval 1 day))
            - epoch(greatest(changed_at, day_start)) as seconds,
        cast(day_start as date) as "day"
    from days
)

select * from final
