(
    select
        cast(count(*) as bigint) as charges,
        cast(coalesce(sum(case when c.source = 'sample' then 1 else 0 end), 0) as bigint) as sample_charges,
        cast((select count(*) from stops) as bigint) as stops,
        min(c.date_of_stop) as first_stop,
        max(c.date_of_stop) as last_stop
    from moco_traffic_violations as c
)
