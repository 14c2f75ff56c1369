-- Null rates of the last successful loads, whatever their source (file, sample or API), newest first,
-- for the schema contract (a field whose null rate jumps against this history stops the load). Every
-- source counts: the first API run after a CSV backfill is judged against the backfill.
-- Grain: one row per run.
select null_rates, rows_landed
from pipeline_runs
where status = 'success' and rows_landed >= :min_rows
order by started_at desc
limit 10;
