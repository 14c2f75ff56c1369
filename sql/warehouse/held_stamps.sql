-- The :updated_at the warehouse holds for some of a batch's row ids, for the older re-stamp check
-- (warehouse.base.older_restamps): a row read again with an older :updated_at than the one held
-- was re-stamped backwards at the portal. Grain: one row per row id held.
-- {{ keys }} is a list of bound placeholders (sqlfiles.expand_list).
with final as (
    select row_id, source_updated_at
    from moco_traffic_violations
    where row_id in ({{ keys }})
      and source_updated_at is not null
)

select * from final
