-- Append one row to the run log (pipeline_runs).
insert into pipeline_runs (
    run_id, command, source, started_at, finished_at, status, rows_raw, rows_landed, rows_quarantined,
    rows_curated, rows_inserted, rows_replaced, warehouse_rows, warehouse_stops, rows_with_zip,
    max_date_of_stop, watermark, null_rates, message
) values (
    :run_id, :command, :source, :started_at, :finished_at, :status, :rows_raw, :rows_landed, :rows_quarantined,
    :rows_curated, :rows_inserted, :rows_replaced, :warehouse_rows, :warehouse_stops, :rows_with_zip,
    :max_date_of_stop, :watermark, :null_rates, :message
);
