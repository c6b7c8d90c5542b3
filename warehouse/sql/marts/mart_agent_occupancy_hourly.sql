-- mart_agent_occupancy_hourly: agent time per state for occupancy.v1
-- (busy + after_contact_work) / (busy + after_contact_work + available).
-- A state lasts until the agent's next state change (int_agent_state_spans) and at most until
-- the end of the day it started, in its tenant's reporting time zone (kpi_time_zones; UTC for a
-- tenant not listed): the part past midnight is not counted. Each span is then cut at the local
-- hour boundaries, so that a span from 10:40 to 11:20 gives 20 minutes to each hour.
-- $interval_us is the length of those pieces: an hour here (warehouse.kpi_marts); the staffing
-- requirement of 15- or 30-minute intervals reads this same SQL with a quarter or half hour,
-- whose pieces start at the local hour's quarters or halves (warehouse.staffing).
-- Grain: one row per hour x tenant x agent x knob set, for the local days $date_from..$date_to:
-- day and hour are the local date and wall-clock hour, hour_utc the UTC instant that hour
-- started (as mart_contact_kpis_hourly: a daylight-saving day has 23 or 25 of them).
-- Agents are blended across channels and queues: no such columns.
-- Units: seconds.
with knobs as (
    select * from kpi_knobs
),

states as (
    select
        s.tenant,
        s.agent_id,
        s.state,
        coalesce(z.time_zone, 'UTC') as time_zone,
        epoch_us(s.started_at) as started_us,
        epoch_us(s.ended_at) as ended_us
    from int_agent_state_spans as s
    left join kpi_time_zones as z on z.tenant = s.tenant
    where s.state in ('busy', 'after_contact_work', 'available')
        -- every local day D lies within the UTC days D - 1 .. D + 1
        and epoch_us(s.started_at) >= epoch_us(cast($date_from as timestamp) - interval 1 day)
        and epoch_us(s.started_at) < epoch_us(cast($date_to as timestamp) + interval 2 day)
),

localised as (
    select
        *,
        -- through epoch microseconds: TIMESTAMP (UTC) and TIMESTAMPTZ inputs alike; a UTC
        -- tenant's is the instant itself (the time zone conversion is most of the cost)
        case
            when time_zone = 'UTC' then make_timestamp(started_us)
            else timezone(time_zone, timezone('UTC', make_timestamp(started_us)))
        end as started_local
    from states
),

days as (
    select
        *,
        cast(started_local as date) as day,
        -- the end of that local day, as an instant
        case
            when time_zone = 'UTC' then epoch_us(cast(started_local as date) + 1)
            else epoch_us(timezone(time_zone, cast(cast(started_local as date) + 1 as timestamp)))
        end as day_end_us,
        -- the start of the local hour the span started in
        started_us
            - (epoch_us(started_local) - epoch_us(date_trunc('hour', started_local)))
            % $interval_us as first_hour_us
    from localised
),

spans as (
    select
        *,
        least(coalesce(ended_us, day_end_us), day_end_us) as until_us
    from days
    where day between $date_from and $date_to
),

-- Each span cut at the hours it overlaps. Most spans end in the hour they started in: their
-- one hour is listed as such rather than by range(), which cost most of this mart when every
-- span went through it. The spans are read once (a union of both cases read them twice).
pieces as (
    select
        day,
        tenant,
        agent_id,
        state,
        time_zone,
        hour_us,
        least(until_us, hour_us + $interval_us) - greatest(started_us, hour_us) as piece_us
    from (
        select
            *,
            unnest(
                case
                    when until_us <= first_hour_us + $interval_us then [first_hour_us]
                    else range(first_hour_us, until_us, $interval_us)
                end
            ) as hour_us
        from spans
        where until_us > started_us
    )
),

-- Summed in whole microseconds per hour first, so that the hour's local label is computed
-- once per hour and agent rather than once per piece.
hourly as (
    select
        day,
        hour_us,
        tenant,
        agent_id,
        time_zone,
        coalesce(sum(piece_us) filter (where state = 'busy'), 0) as busy_us,
        coalesce(sum(piece_us) filter (where state = 'after_contact_work'), 0)
            as after_contact_work_us,
        coalesce(sum(piece_us) filter (where state = 'available'), 0) as available_us
    from pieces
    group by day, hour_us, tenant, agent_id, time_zone
),

final as (
    select
        h.day,
        case
            when h.time_zone = 'UTC' then make_timestamp(h.hour_us)
            else timezone(h.time_zone, timezone('UTC', make_timestamp(h.hour_us)))
        end as hour,
        make_timestamp(h.hour_us) as hour_utc,
        h.tenant,
        h.agent_id as agent,
        k.knob_set,
        h.busy_us / 1e6 as busy_seconds,
        h.after_contact_work_us / 1e6 as after_contact_work_seconds,
        h.available_us / 1e6 as available_seconds
    from hourly as h
    cross join knobs as k
)

select * from final
