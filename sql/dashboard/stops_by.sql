-- Stops and charges of the filtered stops grouped by one or two dimensions (from an allow-list).
-- Grain: one row per (label, label2). With :min_count > 0, counts below it are suppressed (null) and
-- flagged, so a downloaded table never shows a cell under the small-count threshold.
-- the facts slot: a stop cube keeping the dimensions, or the stops themselves (dashboard/queries.py facts()).
-- Rows are grouped by each dimension's key first (dim, dim2), then labelled (dim_label, dim2_label:
-- the key itself, or the reason category of a charge text), so a label computed from the key runs
-- once per distinct key, not once per cube row.
with keyed as (
    select
        {{ dim }} as dim_key,
        {{ dim2 }} as dim2_key,
        sum(s.stops) as stops,
        sum(s.charges) as charges
    from {{ facts }} as s
    where {{ stop_filter }}
    group by 1, 2
),

filtered as (
    select
        {{ dim_label }} as label,
        {{ dim2_label }} as label2,
        k.stops,
        k.charges
    from keyed as k
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
