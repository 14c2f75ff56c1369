-- Totals for the filtered stops. Grain: one row.
-- charges = source rows (a stop has one or more charges); stops = distinct stops.
-- the facts slot: a day-grain stop cube or the stops themselves (dashboard/queries.py facts()); every
-- measure is a sum, so both give the same numbers.
with filtered as (
    select s.date_of_stop, s.stops, s.charges, s.stops_without_zip
    from {{ facts }} as s
    where {{ stop_filter }}
),

final as (
    select
        cast(coalesce(sum(stops), 0) as bigint) as stops,
        cast(coalesce(sum(charges), 0) as bigint) as charges,
        min(date_of_stop) as first_stop,
        max(date_of_stop) as last_stop,
        cast(count(distinct date_of_stop) as bigint) as days_with_stops,
        cast(coalesce(sum(stops_without_zip), 0) as bigint) as stops_without_zip
    from filtered
)

select * from final
