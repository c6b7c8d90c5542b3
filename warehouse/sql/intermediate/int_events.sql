-- int_events: every canonical event once ("at least once in, exactly once out").
-- Grain: one row per event_id. Of the copies of an event (a source that retried, a replay),
-- the first by event time, then by arrival in Kafka, is kept.
-- Columns and units: as stg_events.
with events as (
    select * from stg_events
),

final as (
    select *
    from events
    qualify row_number() over (
        partition by event_id
        order by ts, _kafka_timestamp, _kafka_partition, _kafka_offset
    ) = 1
)

select * from final
