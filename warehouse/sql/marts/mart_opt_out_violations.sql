-- mart_opt_out_violations: outbound attempts to a customer who had opted out (docs/outbound.md).
-- An attempt is a violation when a do-not-contact request (kpi_opt_outs) of the same stitched
-- customer (customer key, after identity stitching), of scope `all` or of the attempt's
-- campaign, happened strictly before the attempt (event times). The earliest such request is
-- named; opt_outs_before counts them all. Attempts and requests whose customer nobody can
-- attribute (no customer key) match nothing.
-- Grain: one row per violating attempt (outbound.attempted event) x knob set, for the days
-- $date_from..$date_to the attempts happened on (the tenant's reporting days).
-- Units: *_at are TIMESTAMPs in UTC; seconds_after_opt_out in seconds.
with attempts as (
    select * from kpi_outbound_attempts
    where day between $date_from and $date_to and customer_key is not null
),

opt_outs as (
    select * from kpi_opt_outs
    where customer_key is not null
),

matched as (
    select
        a.*,
        o.event_id as opt_out_event_id,
        o.opted_out_at,
        o.scope as opt_out_scope,
        o.channel as opt_out_channel,
        count(*) over (partition by a.event_id, a.contact_id) as opt_outs_before
    from attempts as a
    inner join opt_outs as o
        on o.tenant = a.tenant
        and o.customer_key = a.customer_key
        and (o.scope = 'all' or o.scope = a.campaign)
        and o.opted_out_at < a.attempted_at
    qualify row_number() over (
        partition by a.event_id, a.contact_id order by o.opted_out_at, o.event_id
    ) = 1
),

final as (
    select
        day,
        tenant,
        event_id,
        contact_id,
        customer_key,
        campaign,
        dialer,
        result,
        attempted_at,
        opt_out_event_id,
        opted_out_at,
        opt_out_scope,
        opt_out_channel,
        opt_outs_before,
        (epoch_ms(attempted_at) - epoch_ms(opted_out_at)) / 1000 as seconds_after_opt_out,
        knob_set
    from matched
)

select * from final
