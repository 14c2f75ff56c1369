-- A first load's two warehouse checks in one pass over the charges, which hold exactly its batch
-- (warehouse/first_load_copied.sql): the charges received with this run's load id (received.sql)
-- and the surplus charges sharing a row_id (duplicate_keys.sql). Those two join the batch's keys to
-- the charges, which on a first load is every charge twice over, before any index exists.
-- The distinct count sorts 1M row ids: collate "C" compares their bytes (the same equality as any
-- deterministic collation) instead of calling the locale's strcoll per comparison (3.3-6.1 s ->
-- 0.9-1.4 s at load 6, BENCHMARKS.md "h23-pgload").
-- Grain: one row.
with final as (
    select
        coalesce(sum(case when load_id = :run_id then 1 else 0 end), 0) as received,
        count(*) - count(distinct row_id collate "C") as duplicates
    from moco_traffic_violations
)

select received, duplicates from final
