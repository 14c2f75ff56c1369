-- The last runs of the pipeline, newest first. Grain: one row per run.
select
    run_id, command, source, started_at, finished_at, status, rows_raw, rows_landed,
    rows_quarantined, rows_inserted, rows_replaced, warehouse_rows, warehouse_stops, rows_with_zip,
    max_date_of_stop, values_clipped, rows_restamped_older, message
from pipeline_runs
order by started_at desc
limit :limit
