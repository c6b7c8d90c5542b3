-- mart_first_responses: the first-response time of each inbound e-mail, chat, SMS and social
-- contact that got an agent reply (first_response.v1). Medians and p90 cannot be recomputed
-- from sums, so the mart keeps one row per contact and quantiles are taken over the rows of the
-- range and groups asked for.
-- Grain: one row per contact, for the days $date_from..$date_to (the day and hour it started in
-- its tenant's reporting time zone, and hour_utc: that hour's start in UTC, as kpi_contacts).
-- Units: first_response_seconds in seconds (answered_at - started_at).
with contacts as (
    select * from kpi_contacts
    where day between $date_from and $date_to and first_response_ms is not null
),

final as (
    select
        contact_id,
        day,
        hour,
        hour_utc,
        tenant,
        channel,
        queue,
        agent,
        knob_set,
        first_response_ms / 1000 as first_response_seconds
    from contacts
)

select * from final
