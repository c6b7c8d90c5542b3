-- stg_dead_letters: messages the stream could not turn into canonical events (not JSON, schema
-- errors, unknown type, bad time), with their original bytes; `omnicx replay-dead-letters`
-- re-publishes them.
-- Grain: one row per Kafka record of the `dead-letters` topic; a message replayed and rejected
-- again is a new row (with the raw topic offset of its replay).
-- Units: source_* locate the rejected message in its topic; raw_base64 is its exact bytes,
-- raw_preview their UTF-8 reading (at most 2000 characters), raw_size the byte count;
-- _kafka_timestamp (UTC) is when it was dead-lettered.
with landed as (
    select * from lake_dead_letters
),

final as (
    select
        topic as source_topic,
        cast("partition" as integer) as source_partition,
        "offset" as source_offset,
        errors,
        raw_base64,
        raw_preview,
        raw_size,
        cast(_extra as json) as extra,
        _kafka_partition,
        _kafka_offset,
        cast(_kafka_timestamp as timestamp) as _kafka_timestamp,
        "day" as landed_day
    from landed
)

select * from final
