-- Which years the warehouse has, with their first and last stop (unfiltered).
-- Grain: one row per year with at least one stop.
with final as (
    select
        s.stop_year,
        cast(count(*) as bigint) as stops,
        min(s.date_of_stop) as first_stop,
        max(s.date_of_stop) as last_stop
    from stops as s
    group by s.stop_year
)

select * from final
order by stop_year
