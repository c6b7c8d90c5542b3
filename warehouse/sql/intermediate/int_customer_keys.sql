-- int_customer_keys: the current stitched customer key of each identifier hash.
-- Grain: one row per (tenant, identifier): its latest version. customer_key is null for a hub
-- (an identifier shared by too many accounts, which links nobody).
with versions as (
    select * from stg_customer_keys
),

final as (
    select tenant, identifier, customer_key
    from versions
    qualify row_number() over (
        partition by tenant, identifier
        order by version desc, _kafka_timestamp desc, _kafka_offset desc
    ) = 1
)

select * from final
