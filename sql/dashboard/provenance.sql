-- Where the served data comes from and how fresh it is. Grain: one row.
-- Only a *successful* load counts as the last load: a failed, running or abandoned run never
-- describes the data being served (the previous data keeps serving after a failure).
-- sample_charges: charges from the bundled sample (a subset of real rows, not the full record).
with charges as (
    select
        count(*) as charges,
        sum(case when source = 'sample' then 1 else 0 end) as sample_charges,
        min(date_of_stop) as first_stop,
        max(date_of_stop) as last_stop
    from moco_traffic_violations
),

stop_count as (
    select count(*) as stops from stops
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
        cast(s.stops as bigint) as stops,
        c.first_stop,
        c.last_stop,
        l.finished_at as last_success_at,
        l.command as last_success_command,
        l.source as last_success_source,
        l.warehouse_rows as last_success_charges,
        l.warehouse_stops as last_success_stops,
        l.max_date_of_stop as last_success_newest_stop
    from charges as c
    cross join stop_count as s
    left join last_ok as l on 1 = 1
)

select * from final
