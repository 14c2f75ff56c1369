-- Stops and charges per calendar month for the filtered stops.
-- Grain: one row per (year, month) with at least one stop.
-- the facts slot: a stop cube or the stops themselves (dashboard/queries.py facts()).
with filtered as (
    select s.stop_year, s.stop_month, s.stops, s.charges
    from {{ facts }} as s
    where {{ stop_filter }}
),

final as (
    select
        stop_year,
        stop_month,
        cast(sum(stops) as bigint) as stops,
        cast(sum(charges) as bigint) as charges
    from filtered
    group by stop_year, stop_month
)

select * from final
order by stop_year, stop_month
