-- Stops of two periods by a dimension, counted only on the days both periods cover. The days come
-- as ranges of consecutive days (the day_ranges slot: rows of day_from, day_to, period 'a' or 'b',
-- every value a bound parameter), made by dashboard/tables.match_days + day_ranges; a join on a
-- handful of ranges is much faster than a long IN list. the facts slot: a day-grain stop cube keeping
-- the dimensions, or the stops themselves (dashboard/queries.py facts()).
-- Grain: one row per dimension value, ranked by stops in period B; the top :top_n rows.
with ranges as (
    {{ day_ranges }}
),

filtered as (
    select
        {{ dim }} as label,
        r.period,
        s.stops
    from {{ facts }} as s
    inner join ranges as r on s.date_of_stop between r.day_from and r.day_to
    where {{ stop_filter }}
),

counts as (
    select
        label,
        cast(sum(case when period = 'a' then stops else 0 end) as bigint) as stops_a,
        cast(sum(case when period = 'b' then stops else 0 end) as bigint) as stops_b
    from filtered
    group by label
),

ranked as (
    select
        label,
        stops_a,
        stops_b,
        row_number() over (order by stops_b desc, stops_a desc, label) as rank
    from counts
),

final as (
    select label, stops_a, stops_b, cast(rank as integer) as rank
    from ranked
    where rank <= :top_n
)

select * from final
order by rank
