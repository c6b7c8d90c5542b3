-- int_events: every canonical event once ("at least once in, exactly once out").
-- Grain: one row per event, that is per event_id within its routing key (the contact, else the
-- agent: schemas/routing.py), the scope in which the stream de-duplicates. Of the copies of an
-- event (a source that retried, a replay), the first by event time, then by arrival in Kafka,
-- is kept. An event_id is meant to be globally unique (events.md); two contacts that reuse one
-- carry two different events, which are both kept here and listed in int_event_id_collisions.
-- Columns and units: as stg_events.
-- The first copies are materialised per business day by each build (mat_events,
-- warehouse/materialize.py: partition by event_id, coalesce(contact_id, agent_id), order by ts,
-- _kafka_timestamp, _kafka_partition, _kafka_offset).
with events as (
    select * from mat_events
),

final as (
    select *
    from events
)

select * from final
