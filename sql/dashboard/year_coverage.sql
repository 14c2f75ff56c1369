-- Which years the warehouse has: stops, first and last stop, and days with at least one stop
-- (unfiltered; a year with fewer covered days than calendar days is partial).
-- Grain: one row per year with at least one stop. the facts slot: a day-grain cube or the stops.
with final as (
    select
        s.stop_year,
        cast(sum(s.stops) as bigint) as stops,
        min(s.date_of_stop) as first_stop,
        max(s.date_of_stop) as last_stop,
        cast(count(distinct s.date_of_stop) as bigint) as days_covered
    from {{ facts }} as s
    group by s.stop_year
)

select * from final
order by stop_year
