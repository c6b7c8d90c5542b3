-- int_contacts: every contact as the stream knows it now.
-- Grain: one row per contact_id: its latest version (highest `version`).
-- Columns: every field of schemas.records.ContactFacts with the same name (*_at TIMESTAMPs in
-- UTC, *_seconds seconds, lists VARCHAR[]), plus `version`; started_day (DATE) and started_hour
-- (TIMESTAMP) are the UTC day and hour of started_at (null without a start event); first_queue
-- and first_agent are queues[1] and agents[1]; customer_key is the stitched customer of the
-- contact's identifiers (the smallest key among them, as the stream's journeys use; null when
-- it has none or only hubs).
-- The latest versions, and each one's customer key, are materialised per business day by each
-- build (mat_contact_versions: warehouse/materialize.py, warehouse/contact_keys.py), so that a
-- query over one day reads that day's contacts only.
with latest as (
    select * exclude (extra, _kafka_partition, _kafka_offset, _kafka_timestamp, business_day)
    from mat_contact_versions
),

final as (
    select
        latest.* exclude (customer_key, started_day),
        -- stored in the materialised files (cast(started_at as date)): a filter on it skips
        -- the other days' files
        latest.started_day,
        date_trunc('hour', latest.started_at) as started_hour,
        latest.queues[1] as first_queue,
        latest.agents[1] as first_agent,
        latest.customer_key
    from latest
)

select * from final
