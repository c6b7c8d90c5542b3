-- int_contacts: every contact as the stream knows it now.
-- Grain: one row per contact_id: its latest version (highest `version`).
-- Columns: every field of schemas.records.ContactFacts with the same name (*_at TIMESTAMPs in
-- UTC, *_seconds seconds, lists VARCHAR[]), plus `version`; started_day (DATE) and started_hour
-- (TIMESTAMP) are the UTC day and hour of started_at (null without a start event); first_queue
-- and first_agent are queues[1] and agents[1]; customer_key is the stitched customer of the
-- contact's identifiers (the smallest key among them, as the stream's journeys use; null when
-- it has none or only hubs).
-- The latest versions are materialised per business day by each build (mat_contact_versions,
-- warehouse/materialize.py); the customer key is looked up at query time, so a later identity
-- merge shows at once.
with latest as (
    select * exclude (extra, _kafka_partition, _kafka_offset, _kafka_timestamp, business_day)
    from mat_contact_versions
),

keys as (
    select * from int_customer_keys
),

contact_keys as (
    select latest.contact_id, min(keys.customer_key) as customer_key
    from latest
    cross join unnest(latest.customer_ids) as ids (identifier)
    inner join keys on keys.tenant = latest.tenant and keys.identifier = ids.identifier
    group by latest.contact_id
),

final as (
    select
        latest.*,
        cast(latest.started_at as date) as started_day,
        date_trunc('hour', latest.started_at) as started_hour,
        latest.queues[1] as first_queue,
        latest.agents[1] as first_agent,
        contact_keys.customer_key
    from latest
    left join contact_keys on contact_keys.contact_id = latest.contact_id
)

select * from final
