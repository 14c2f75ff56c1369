-- Where the served data comes from and how fresh it is. Grain: one row.
-- Only a *successful* load counts as the last load: a failed, running or abandoned run never
-- describes the data being served (the previous data keeps serving after a failure).
-- sample_charges: charges from the bundled sample (a subset of real rows, not the full record).
-- the provenance slot: mart_provenance (one row, rebuilt by each load), or provenance_counts.sql
-- (the same row counted from the tables) on a warehouse whose marts are not built yet.
with served as (
    select charges, sample_charges, stops, first_stop, last_stop
    from {{ provenance }} as p
),

ranked_ok as (
    select
        run_id, command, source, finished_at, warehouse_rows, warehouse_stops, max_date_of_stop,
        row_number() over (order by finished_at desc, run_id desc) as rn
    from pipeline_runs
    where status = 'success'
),

last_ok as (
    select * from ranked_ok where rn = 1
),

final as (
    select
        cast(c.charges as bigint) as charges,
        cast(coalesce(c.sample_charges, 0) as bigint) as sample_charges,
        cast(c.stops as bigint) as stops,
        c.first_stop,
        c.last_stop,
        l.finished_at as last_success_at,
        l.command as last_success_command,
        l.source as last_success_source,
        l.warehouse_rows as last_success_charges,
        l.warehouse_stops as last_success_stops,
        l.max_date_of_stop as last_success_newest_stop
    from served as c
    left join last_ok as l on 1 = 1
)

select * from final
