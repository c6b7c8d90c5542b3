-- stg_customer_keys: the stitched customer key of each identifier hash, as the stream
-- published it on the `customers` topic each time it changed.
-- Grain: one row per Kafka record; one identifier (tenant, identifier) has several versions.
-- customer_key is null when the identifier is a hub (it links nobody).
with landed as (
    select * from lake_customer_keys
),

final as (
    select
        tenant,
        identifier,
        customer_key,
        version,
        cast(_extra as json) as extra,
        _kafka_partition,
        _kafka_offset,
        _kafka_timestamp at time zone 'UTC' as _kafka_timestamp,
        "day" as business_day
    from landed
)

select * from final
