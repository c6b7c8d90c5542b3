-- stg_contact_versions: every version of every contact record (schemas.records.ContactFacts)
-- the stream published on the `contacts` topic.
-- Grain: one row per Kafka record; one contact has several versions (rising `version`).
-- Units: *_at are TIMESTAMPs in UTC; *_seconds are seconds (DOUBLE); counts are integers;
-- nps 0-10, csat 1-5, ces 1-7; customer_ids are keyed hashes (`phone:ab12...`).
with landed as (
    select * from lake_contact_versions
),

final as (
    select
        contact_id,
        tenant,
        channel,
        direction,
        customer_ids,
        reason,
        queues,
        agents,
        try_cast(started_at as timestamp) as started_at,
        try_cast(first_queued_at as timestamp) as first_queued_at,
        try_cast(answered_at as timestamp) as answered_at,
        try_cast(ended_at as timestamp) as ended_at,
        try_cast(wrapped_up_at as timestamp) as wrapped_up_at,
        try_cast(abandoned_at as timestamp) as abandoned_at,
        talk_seconds,
        hold_seconds,
        acw_seconds,
        cast(transfers as integer) as transfers,
        cast(warm_transfers as integer) as warm_transfers,
        cast(cold_transfers as integer) as cold_transfers,
        cast(max_tier as integer) as max_tier,
        abandoned,
        short_abandon,
        deflected,
        deflection_cause,
        outage_message_heard,
        disposition,
        resolvable_in_one_contact,
        ticket_id,
        cast(nps as integer) as nps,
        cast(csat as integer) as csat,
        cast(ces as integer) as ces,
        cancellation_intent,
        status,
        version,
        cast(_extra as json) as extra,
        _kafka_partition,
        _kafka_offset,
        cast(_kafka_timestamp as timestamp) as _kafka_timestamp,
        "day" as landed_day
    from landed
)

select * from final
