-- int_journeys: the journeys that exist now (kpis.md, Resolution).
-- Grain: one row per (tenant, journey_id) whose latest version is not superseded.
-- Columns: every field of schemas.records.JourneyFacts (first_started_at a TIMESTAMP in UTC),
-- plus version, first_started_day (DATE, UTC day of the first contact's start) and
-- contact_count (contacts in the journey).
-- The latest versions are materialised per business day by each build (mat_journey_versions,
-- warehouse/materialize.py).
with latest as (
    select * from mat_journey_versions
),

final as (
    select
        journey_id,
        customer_key,
        tenant,
        first_contact_id,
        first_started_at,
        contact_ids,
        channels,
        resolved_at_first_contact,
        first_contact_resolvable_in_one_contact,
        last_disposition,
        version,
        -- stored in the materialised files (cast(first_started_at as date)): a filter on it
        -- skips the other days' files
        first_started_day,
        cast(len(contact_ids) as integer) as contact_count
    from latest
    where not coalesce(superseded, false)
)

select * from final
