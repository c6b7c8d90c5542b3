-- stg_dead_letters: messages the stream could not turn into canonical events (not JSON, too
-- large or too deep, schema errors, unknown type, bad or far-future time), redacted: no raw
-- bytes, personal data masked in the preview and the errors (docs/streams.md, Dead letters).
-- Grain: one row per Kafka record of the `dead-letters` topic; a message replayed and rejected
-- again is a new row with the same dead_letter_id (and the raw topic offset of its replay).
-- Units: source_* locate the rejected message in its topic; raw_size is its byte count and
-- raw_sha256 the SHA-256 of its bytes (hex); event_type, event_id, contact_id, tenant are read
-- from the message when it is a JSON object that has them, and so is occurred_at (UTC; null
-- when missing or not a time); redacted_preview is its start (at most
-- 2000 characters) with identifiers and free text masked; replayed is true for a rejection of a
-- replayed copy; _kafka_timestamp (UTC) is when it was dead-lettered.
with landed as (
    select * from lake_dead_letters
),

final as (
    select
        dead_letter_id,
        topic as source_topic,
        cast("partition" as integer) as source_partition,
        "offset" as source_offset,
        errors,
        raw_size,
        raw_sha256,
        event_type,
        event_id,
        contact_id,
        tenant,
        occurred_at at time zone 'UTC' as occurred_at,
        redacted_preview,
        coalesce(replayed, false) as replayed,
        cast(_extra as json) as extra,
        _kafka_partition,
        _kafka_offset,
        _kafka_timestamp at time zone 'UTC' as _kafka_timestamp,
        "day" as business_day
    from landed
)

select * from final
