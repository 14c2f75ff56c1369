-- Stops in the same part of two years (1 January to :cut_month/:cut_day in each), by a dimension.
-- Grain: one row per dimension value, ranked by stops in :year_b; the top :top_n rows.
with filtered as (
    select
        {{ dim }} as label,
        s.stop_year
    from stops as s
    where {{ stop_filter }}
        and s.stop_year in (:year_a, :year_b)
        and (
            s.stop_month < :cut_month
            or (s.stop_month = :cut_month and cast(extract(day from s.date_of_stop) as integer) <= :cut_day)
        )
),

counts as (
    select
        label,
        cast(sum(case when stop_year = :year_a then 1 else 0 end) as bigint) as stops_a,
        cast(sum(case when stop_year = :year_b then 1 else 0 end) as bigint) as stops_b
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
