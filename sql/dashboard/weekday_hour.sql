-- Stops by day of week and hour of day. Grain: one row per (weekday, hour) with at least one stop.
-- stop_weekday: 0 = Sunday ... 6 = Saturday (extract(dow)); stops without a time are left out.
-- the facts slot: an hour cube or the stops themselves (dashboard/queries.py facts()).
with filtered as (
    select s.stop_weekday, s.stop_hour, s.stops
    from {{ facts }} as s
    where {{ stop_filter }} and s.stop_hour is not null and s.stop_weekday is not null
),

final as (
    select stop_weekday, stop_hour, cast(sum(stops) as bigint) as stops
    from filtered
    group by stop_weekday, stop_hour
)

select * from final
order by stop_weekday, stop_hour
