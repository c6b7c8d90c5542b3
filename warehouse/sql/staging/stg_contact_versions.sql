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
        started_at at time zone 'UTC' as started_at,
        first_queued_at at time zone 'UTC' as first_queued_at,
        answered_at at time zone 'UTC' as answered_at,
        ended_at at time zone 'UTC' as ended_at,
        wrapped_up_at at time zone 'UTC' as wrapped_up_at,
        abandoned_at at time zone 'UTC' as abandoned_at,
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
        _kafka_timestamp at time zone 'UTC' as _kafka_timestamp,
        "day" as business_day
    from landed
)

select * from final
