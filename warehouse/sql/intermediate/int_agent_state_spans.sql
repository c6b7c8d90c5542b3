-- int_agent_state_spans: the time agents spent in each state (for occupancy.v1).
-- Grain: one row per agent state span. A state starts at its agent.state_changed event (of
-- int_events) and lasts until the agent's next state change, whatever its day; the agent's
-- current state (no change after it yet) has no end (ended_at and seconds NULL). The cut at the
-- end of the day that occupancy.v1 makes (kpis.md) is the KPI mart's: the day is the tenant's
-- reporting day (mart_agent_occupancy_hourly).
-- Units: started_at/ended_at are TIMESTAMPs in UTC, seconds = ended_at - started_at in seconds,
-- day the UTC DATE the span started (the lake's day, which the data-quality checks select on).
-- The spans are materialised per business day by each build (mat_agent_state_spans,
-- warehouse/state_spans.py: the days whose events changed and the earlier days whose last spans
-- those changes end), so that a day's spans are not recomputed from every state change.
with spans as (
    select * from mat_agent_state_spans
),

final as (
    select
        tenant,
        agent_id,
        state,
        started_at,
        ended_at,
        seconds,
        "day"
    from spans
)

select * from final
