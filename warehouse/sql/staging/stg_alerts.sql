-- stg_alerts: churn-risk alerts from the `alerts` topic.
-- Grain: one row per Kafka record (one alert sent).
-- Units: score 0-100; fired_at is a TIMESTAMP in UTC; signals is JSON (the signals that raised
-- the score); extra holds the alert's other fields, as JSON.
with landed as (
    select * from lake_alerts
),

final as (
    select
        alert_id,
        tenant,
        customer_key,
        score,
        cast(signals as json) as signals,
        fired_at at time zone 'UTC' as fired_at,
        cast(_extra as json) as extra,
        _kafka_partition,
        _kafka_offset,
        _kafka_timestamp at time zone 'UTC' as _kafka_timestamp,
        "day" as business_day
    from landed
)

select * from final
