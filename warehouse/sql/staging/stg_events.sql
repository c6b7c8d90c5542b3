-- stg_events: the canonical valid events of the `events` topic (streams/canonical.py), as landed.
-- Grain: one row per Kafka record (_kafka_partition, _kafka_offset). An event that a source
-- sent twice is two records here; int_events keeps one.
-- Units: occurred_at is a TIMESTAMP in UTC (millisecond precision); ts is the same instant in
-- epoch seconds; _kafka_timestamp (UTC) is when the record reached Kafka; business_day is the
-- lake directory's day (the event's UTC day). attributes is JSON (message text removed,
-- cancellation_intent added).
with landed as (
    select * from lake_events
),

final as (
    select
        event_id,
        event_type,
        cast(schema_version as integer) as schema_version,
        occurred_at at time zone 'UTC' as occurred_at,
        ts,
        tenant,
        channel,
        direction,
        contact_id,
        agent_id,
        queue,
        customer_ids,
        cast(attributes as json) as attributes,
        cast(_extra as json) as extra,
        _kafka_partition,
        _kafka_offset,
        _kafka_timestamp at time zone 'UTC' as _kafka_timestamp,
        "day" as business_day
    from landed
)

select * from final
