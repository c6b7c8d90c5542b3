-- int_surveys: every completed survey, attributed to the surveyed contact (kpis.md, Surveys).
-- Grain: one row per survey.completed event (event_id, duplicates removed).
-- Units: survey_at is a TIMESTAMP in UTC; nps 0-10, csat 1-5, ces 1-7 (null when not asked).
-- contact_* come from int_contacts (contact_queue its first queue, contact_agent its first
-- agent); has_contact is false, and they are null, when the warehouse has no such contact.
with surveys as (
    select * from int_events
    where event_type = 'survey.completed'
),

contacts as (
    select contact_id, started_day, channel, first_queue, first_agent from int_contacts
),

final as (
    select
        surveys.event_id,
        surveys.contact_id,
        surveys.tenant,
        surveys.channel,
        surveys.occurred_at as survey_at,
        try_cast(surveys.attributes ->> 'nps' as integer) as nps,
        try_cast(surveys.attributes ->> 'csat' as integer) as csat,
        try_cast(surveys.attributes ->> 'ces' as integer) as ces,
        contacts.started_day as contact_started_day,
        contacts.channel as contact_channel,
        contacts.first_queue as contact_queue,
        contacts.first_agent as contact_agent,
        contacts.contact_id is not null as has_contact
    from surveys
    left join contacts on contacts.contact_id = surveys.contact_id
)

select * from final
