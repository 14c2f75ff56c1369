-- Append one row to the run log (pipeline_runs). Grain: one row per run.
-- A run writes its `running` row first (own transaction), then replaces it with its final row:
-- `success` in the load's own transaction, or `failed` in another small one.
insert into pipeline_runs (
    run_id, command, source, started_at, finished_at, status, rows_raw, rows_landed, rows_quarantined,
    rows_curated, rows_inserted, rows_replaced, warehouse_rows, warehouse_stops, rows_with_zip,
    max_date_of_stop, watermark, null_rates, message, charges_added, charges_edited, charges_removed,
    stops_added, stops_edited, stops_removed, lake_version, values_clipped, rows_restamped_older
) values (
    :run_id, :command, :source, :started_at, :finished_at, :status, :rows_raw, :rows_landed, :rows_quarantined,
    :rows_curated, :rows_inserted, :rows_replaced, :warehouse_rows, :warehouse_stops, :rows_with_zip,
    :max_date_of_stop, :watermark, :null_rates, :message, :charges_added, :charges_edited, :charges_removed,
    :stops_added, :stops_edited, :stops_removed, :lake_version, :values_clipped, :rows_restamped_older
);
