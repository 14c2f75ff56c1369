-- Stops of two periods by a dimension, counted only on the days both periods cover (see
-- period_compare.sql for the day matching). Grain: one row per dimension value, ranked by stops
-- in period B; the top :top_n rows.
with {{ matched_days }},

filtered as (
    select
        {{ dim }} as label,
        case when m.day_a is not null then 'a' else 'b' end as period
    from stops as s
    left join matched as m on m.day_a = s.date_of_stop
    left join matched as mb on mb.day_b = s.date_of_stop
    where {{ stop_filter }}
        and (m.day_a is not null or mb.day_b is not null)
),

counts as (
    select
        label,
        cast(sum(case when period = 'a' then 1 else 0 end) as bigint) as stops_a,
        cast(sum(case when period = 'b' then 1 else 0 end) as bigint) as stops_b
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
