-- int_dead_letters: every rejected message once, with its errors and original bytes.
-- Grain: one row per source message (source_topic, source_partition, source_offset). The stream
-- may dead-letter a message twice when it replays a batch after a crash; the first copy is kept.
-- Columns and units: as stg_dead_letters.
with dead_letters as (
    select * from stg_dead_letters
),

final as (
    select *
    from dead_letters
    qualify row_number() over (
        partition by source_topic, source_partition, source_offset
        order by _kafka_timestamp, _kafka_partition, _kafka_offset
    ) = 1
)

select * from final
