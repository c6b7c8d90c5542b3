-- stg_identity_merges: the audit trail of identity stitching (streams/identity.py): every
-- merge of two customers, identifier turned hub, and merge refused, with its evidence.
-- Grain: one row per Kafka record of the `identity-merges` topic (one audit record).
-- Units: identifiers and keys are keyed hashes; evidence_occurred_at is a TIMESTAMP in UTC;
-- merged_roots/new_root for merges, root for hubs, accounts for hubs and refusals.
with landed as (
    select * from lake_identity_merges
),

final as (
    select
        action,
        tenant,
        merged_roots,
        new_root,
        old_keys,
        new_key,
        root,
        accounts,
        affected_keys,
        cast(evidence as json) ->> 'event_id' as evidence_event_id,
        cast(evidence as json) ->> 'event_type' as evidence_event_type,
        try_cast(cast(evidence as json) ->> 'occurred_at' as timestamp) as evidence_occurred_at,
        cast(cast(evidence as json) -> 'identifiers' as varchar[]) as evidence_identifiers,
        cast(_extra as json) as extra,
        _kafka_partition,
        _kafka_offset,
        _kafka_timestamp at time zone 'UTC' as _kafka_timestamp,
        "day" as business_day
    from landed
)

select * from final
