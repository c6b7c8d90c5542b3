-- int_customer_keys: the current stitched customer key of each identifier hash.
-- Grain: one row per (tenant, identifier): its latest version. customer_key is null for a hub
-- (an identifier shared by too many accounts, which links nobody).
-- The latest versions are materialised per business day by each build (mat_customer_keys,
-- warehouse/materialize.py).
with latest as (
    select * from mat_customer_keys
),

final as (
    select tenant, identifier, customer_key
    from latest
)

select * from final
