-- int_alert_deliveries: what became of each alert on each channel.
-- Grain: one row per (alert_id, channel): its latest outcome (delivered, or failed after its
-- attempts or at once on a refusal; docs/alerts.md, Delivery). An alert still being retried has
-- no row yet.
-- Units: attempts is a count; latency_seconds from the alert's creation to the outcome.
with outcomes as (
    select * from stg_alert_deliveries
),

final as (
    select
        alert_id,
        tenant,
        channel,
        status,
        attempts,
        last_error,
        first_attempt_at,
        finished_at,
        latency_seconds
    from outcomes
    qualify row_number() over (
        partition by alert_id, channel
        order by finished_at desc, _kafka_timestamp desc, _kafka_offset desc
    ) = 1
)

select * from final
