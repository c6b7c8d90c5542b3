-- int_dead_letters: every rejected message once, however often it was rejected.
-- Grain: one row per dead_letter_id. The stream may dead-letter a message twice when it replays
-- a batch after a crash (same source coordinates, same id), and `omnicx replay-dead-letters`
-- re-publishes a message with its id, so each failed replay is a further rejection of the same
-- dead letter rather than a new one.
-- Columns and units: as stg_dead_letters, from the first rejection (its source coordinates are
-- where the message was first read), plus rejections (how many dead-letter records it has),
-- last_errors (the errors of the latest rejection) and last_rejected_at (UTC).
with dead_letters as (
    select * from stg_dead_letters
),

-- A batch replayed after a crash publishes its dead letters again: one per source record.
rejections as (
    select *
    from dead_letters
    qualify row_number() over (
        partition by dead_letter_id, source_topic, source_partition, source_offset
        order by _kafka_timestamp, _kafka_partition, _kafka_offset
    ) = 1
),

counted as (
    select
        *,
        count(*) over (partition by dead_letter_id) as rejections,
        last_value(errors) over latest as last_errors,
        last_value(_kafka_timestamp) over latest as last_rejected_at,
        row_number() over (
            partition by dead_letter_id
            order by _kafka_timestamp, _kafka_partition, _kafka_offset
        ) as rejection_number
    from rejections
    window latest as (
        partition by dead_letter_id
        order by _kafka_timestamp, _kafka_partition, _kafka_offset
        rows between unbounded preceding and unbounded following
    )
),

final as (
    select * exclude (rejection_number)
    from counted
    where rejection_number = 1
)

select * from final
