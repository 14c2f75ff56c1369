-- Null rates of the last successful loads that read the same source, newest first, for the
-- schema contract (a field whose null rate jumps against this history stops the load).
-- Grain: one row per run.
select null_rates, rows_landed
from pipeline_runs
where status = 'success' and source = :source and rows_landed >= :min_rows
order by started_at desc
limit 10;
