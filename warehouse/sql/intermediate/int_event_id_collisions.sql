-- int_event_id_collisions: event ids that more than one event carries (events of different
-- contacts or agents), a data-quality failure of their source: an event_id is meant to be
-- globally unique (events.md). int_events keeps every one of these events; the blocking check
-- event_id_collisions fails for the days they occurred on.
-- Grain: one row per colliding event_id.
-- Columns: events is how many distinct events (contacts or agents) carry the id; tenants, contact_ids, agent_ids and
-- event_types are their sorted distinct values; first_occurred_at and last_occurred_at (UTC)
-- bound their event times.
with events as (
    select * from int_events
),

final as (
    select
        event_id,
        count(distinct [contact_id, agent_id]) as events,
        list_sort(list_distinct(list(tenant))) as tenants,
        list_sort(list_distinct(list(contact_id))) as contact_ids,
        list_sort(list_distinct(list(agent_id))) as agent_ids,
        list_sort(list_distinct(list(event_type))) as event_types,
        min(occurred_at) as first_occurred_at,
        max(occurred_at) as last_occurred_at
    from events
    group by event_id
    having count(distinct [contact_id, agent_id]) > 1
)

select * from final
