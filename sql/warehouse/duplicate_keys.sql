-- Charges that share a row_id with another charge, among the row_ids the batch staged: a merge can
-- only duplicate a key it inserts (every earlier load left none), so the check reads the batch's
-- keys through the row_id index instead of counting distinct keys over every charge.
-- Grain: one row, the number of surplus charges.
with batch_keys as (
    select distinct row_id from stg_charges
),

held as (
    select t.row_id
    from moco_traffic_violations as t
    join batch_keys as k on k.row_id = t.row_id
),

final as (
    select count(*) - count(distinct row_id) as duplicates from held
)

select duplicates from final
