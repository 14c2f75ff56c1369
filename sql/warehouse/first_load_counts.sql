-- A first load's two warehouse checks in one pass over the charges, which hold exactly its batch
-- on every backend (an empty table, filled by this transaction alone): the charges received with
-- this run's load id (received.sql) and the surplus charges sharing a row_id (duplicate_keys.sql).
-- Those two join the batch's keys to the charges, which on a first load is every charge twice over
-- (PostgreSQL: before any index exists; DuckDB: the staged batch is a view over the curated files,
-- so each join reads them again).
-- Grain: one row.
with final as (
    select
        coalesce(sum(case when load_id = :run_id then 1 else 0 end), 0) as received,
        count(*) - count(distinct row_id) as duplicates
    from moco_traffic_violations
)

select received, duplicates from final
