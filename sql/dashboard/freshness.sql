-- Row counts and freshness: one row. charges = source rows; stops = distinct stops.
with charges as (
    select count(*) as charges, min(date_of_stop) as first_stop, max(date_of_stop) as last_stop
    from moco_traffic_violations
),

stop_count as (
    select count(*) as stops from stops
),

last_ok as (
    select max(finished_at) as last_success_at from pipeline_runs where status = 'success'
),

final as (
    select c.charges, s.stops, c.first_stop, c.last_stop, l.last_success_at
    from charges as c cross join stop_count as s cross join last_ok as l
)

select * from final
