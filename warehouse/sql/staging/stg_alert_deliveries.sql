-- stg_alert_deliveries: the outcome of each alert on each channel, as the delivery worker
-- (`omnicx alerts deliver`) published it on the `alert-deliveries` topic.
-- Grain: one row per Kafka record; an outcome published again (the worker restarted before it
-- recorded the publication) is a second row with the same (alert_id, channel).
-- Units: attempts is a count; latency_seconds from the alert's creation to the outcome; *_at are
-- TIMESTAMPs in UTC.
with landed as (
    select * from lake_alert_deliveries
),

final as (
    select
        alert_id,
        tenant,
        channel,
        status,
        attempts,
        last_error,
        first_attempt_at at time zone 'UTC' as first_attempt_at,
        finished_at at time zone 'UTC' as finished_at,
        latency_seconds,
        cast(_extra as json) as extra,
        _kafka_partition,
        _kafka_offset,
        _kafka_timestamp at time zone 'UTC' as _kafka_timestamp,
        "day" as business_day
    from landed
)

select * from final
