-- Stops and charges per calendar month for the filtered stops.
-- Grain: one row per (year, month) with at least one stop.
with filtered as (
    select s.stop_year, s.stop_month, s.n_charges
    from stops as s
    where {{ stop_filter }}
),

final as (
    select
        stop_year,
        stop_month,
        cast(count(*) as bigint) as stops,
        cast(sum(n_charges) as bigint) as charges
    from filtered
    group by stop_year, stop_month
)

select * from final
order by stop_year, stop_month
