-- Stops and charges per day for the filtered stops. Grain: one row per date with at least one stop.
-- the facts slot: a day-grain stop cube or the stops themselves (dashboard/queries.py facts()).
with filtered as (
    select s.date_of_stop, s.stops, s.charges
    from {{ facts }} as s
    where {{ stop_filter }}
),

final as (
    select
        date_of_stop,
        cast(sum(stops) as bigint) as stops,
        cast(sum(charges) as bigint) as charges
    from filtered
    group by date_of_stop
)

select * from final
order by date_of_stop
