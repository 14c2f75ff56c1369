-- What each successful load changed, newest first. Grain: one row per successful run.
-- added = new row ids; edited = row ids whose content really changed (not every row re-read in the
-- lookback window); removed = row ids deleted. Charges are the source's rows, stops are stops.
-- Failed, running and abandoned runs changed nothing that is served, so they are not listed.
with final as (
    select
        run_id, command, source, started_at, finished_at,
        charges_added, charges_edited, charges_removed,
        stops_added, stops_edited, stops_removed,
        warehouse_rows, warehouse_stops, max_date_of_stop
    from pipeline_runs
    where status = 'success'
)

select * from final
order by finished_at desc, run_id desc
limit :limit
