-- int_alerts: every churn-risk alert once, with the signals that raised it.
-- Grain: one row per alert_id (the first record of it; a replay publishes the same alert again).
-- Units: as stg_alerts, plus signal_names (the signals, heaviest first).
with alerts as (
    select * from stg_alerts
),

first_records as (
    select *
    from alerts
    qualify row_number() over (
        partition by alert_id
        order by _kafka_timestamp, _kafka_partition, _kafka_offset
    ) = 1
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
        signals,
        cast(json_extract_string(signals, '$[*].signal') as varchar[]) as signal_names,
        trigger_event_id,
        trigger_occurred_at,
        created_at,
        knob_set,
        schema_version
    from first_records
)

select * from final
