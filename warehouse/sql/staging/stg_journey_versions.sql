-- stg_journey_versions: every version of every journey (schemas.records.JourneyFacts) the
-- stream published on the `journeys` topic.
-- Grain: one row per Kafka record; one journey (tenant, journey_id) has several versions.
-- superseded = true means the journey stopped existing at that version (an identity merge or a
-- late contact regrouped it).
-- Units: first_started_at is a TIMESTAMP in UTC; contact_ids in order of start; channels
-- distinct in order of first use.
with landed as (
    select * from lake_journey_versions
),

final as (
    select
        journey_id,
        customer_key,
        tenant,
        first_contact_id,
        first_started_at at time zone 'UTC' as first_started_at,
        contact_ids,
        channels,
        resolved_at_first_contact,
        first_contact_resolvable_in_one_contact,
        last_disposition,
        version,
        superseded,
        cast(_extra as json) as extra,
        _kafka_partition,
        _kafka_offset,
        _kafka_timestamp at time zone 'UTC' as _kafka_timestamp,
        "day" as business_day
    from landed
)

select * from final
