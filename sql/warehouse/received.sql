-- The charges this run inserted (load_id = :run_id), found through the batch's keys (the row_id
-- index) rather than by scanning every charge for the load id: every row a load inserts comes
-- from stg_charges. Grain: one row, the count.
with batch_keys as (
    select distinct row_id from stg_charges
),

final as (
    select count(*) as received
    from moco_traffic_violations as t
    join batch_keys as k on k.row_id = t.row_id
    where t.load_id = :run_id
)

select received from final
