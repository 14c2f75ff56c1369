-- Totals for the filtered stops. Grain: one row.
-- charges = source rows (a stop has one or more charges); stops = distinct stops.
-- the facts slot: a day or month stop cube or the stops themselves (dashboard/queries.py facts()).
-- Every count is a sum; first_day / last_day are the first and last day with a stop in a row, and
-- day_mask those days of its month as bits (sql/marts/cube_schema.sql), so a month cube keeping
-- people and place answers too: the days with stops of a month are the set bits of the bit-or of
-- its rows, counted against the 31 day bits.
with filtered as (
    select s.stop_year, s.stop_month, s.first_day, s.last_day, s.day_mask,
        s.stops, s.charges, s.stops_without_zip
    from {{ facts }} as s
    where {{ stop_filter }}
),

months as (
    select stop_year, stop_month, bit_or(day_mask) as day_mask
    from filtered
    group by stop_year, stop_month
),

day_bits as (
    select 1 as bit union all select 2 union all select 4 union all select 8 union all select 16
    union all select 32 union all select 64 union all select 128 union all select 256
    union all select 512 union all select 1024 union all select 2048 union all select 4096
    union all select 8192 union all select 16384 union all select 32768 union all select 65536
    union all select 131072 union all select 262144 union all select 524288 union all select 1048576
    union all select 2097152 union all select 4194304 union all select 8388608 union all select 16777216
    union all select 33554432 union all select 67108864 union all select 134217728
    union all select 268435456 union all select 536870912 union all select 1073741824
),

days as (
    select cast(count(*) as bigint) as days_with_stops
    from months as m
    inner join day_bits as b on (m.day_mask & b.bit) <> 0
),

sums as (
    select
        cast(coalesce(sum(stops), 0) as bigint) as stops,
        cast(coalesce(sum(charges), 0) as bigint) as charges,
        min(first_day) as first_stop,
        max(last_day) as last_stop,
        cast(coalesce(sum(stops_without_zip), 0) as bigint) as stops_without_zip
    from filtered
),

final as (
    select s.stops, s.charges, s.first_stop, s.last_stop, d.days_with_stops, s.stops_without_zip
    from sums as s
    cross join days as d
)

select * from final
