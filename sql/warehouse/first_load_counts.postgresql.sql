-- PostgreSQL's first_load_counts.sql (the same two checks in one pass over the charges). The
-- distinct count sorts 1M row ids: collate "C" compares their bytes (the same equality as any
-- deterministic collation) instead of calling the locale's strcoll per comparison (3.3-6.1 s ->
-- 0.9-1.4 s at load 6, BENCHMARKS.md "h23-pgload"). Redshift has no `collate "C"`: it reads the
-- generic file.
-- Grain: one row.
with final as (
    select
        coalesce(sum(case when load_id = :run_id then 1 else 0 end), 0) as received,
        count(*) - count(distinct row_id collate "C") as duplicates
    from moco_traffic_violations
)

select received, duplicates from final
