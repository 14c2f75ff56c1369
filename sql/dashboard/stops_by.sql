-- Stops and charges of the filtered stops grouped by one or two dimensions (from an allow-list).
-- Grain: one row per (label, label2). With :min_count > 0, counts below it are suppressed (null) and
-- flagged, so a downloaded table never shows a cell under the small-count threshold.
-- the facts slot: a stop cube keeping the dimensions, or the stops themselves (dashboard/queries.py facts()).
with filtered as (
    select
        {{ dim }} as label,
        {{ dim2 }} as label2,
        s.stops,
        s.charges
    from {{ facts }} as s
    where {{ stop_filter }}
),

counts as (
    select label, label2, sum(stops) as stops, sum(charges) as charges
    from filtered
    group by label, label2
),

final as (
    select
        label,
        label2,
        cast(case when stops < :min_count then null else stops end as bigint) as stops,
        cast(case when stops < :min_count then null else charges end as bigint) as charges,
        cast(case when stops < :min_count then 1 else 0 end as integer) as suppressed
    from counts
)

select * from final
order by label, label2
