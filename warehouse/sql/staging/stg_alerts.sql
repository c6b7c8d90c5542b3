-- stg_alerts: churn-risk alerts from the `alerts` topic (docs/alerts.md, the alert record).
-- Grain: one row per Kafka record; a stream replay after a crash publishes an alert again with
-- the same alert_id (int_alerts keeps one).
-- Units: scores 0-100; *_at are TIMESTAMPs in UTC; signals is JSON (each signal, its weight and
-- the contacts that raised it); extra holds the alert's other fields, as JSON.
with landed as (
    select * from lake_alerts
),

final as (
    select
        alert_id,
        tenant,
        customer_key,
        customer_ids,
        reason,
        score,
        previous_score,
        threshold,
        cast(signals as json) as signals,
        trigger_event_id,
        trigger_occurred_at at time zone 'UTC' as trigger_occurred_at,
        created_at at time zone 'UTC' as created_at,
        knob_set,
        schema_version,
        cast(_extra as json) as extra,
        _kafka_partition,
        _kafka_offset,
        _kafka_timestamp at time zone 'UTC' as _kafka_timestamp,
        "day" as business_day
    from landed
)

select * from final
