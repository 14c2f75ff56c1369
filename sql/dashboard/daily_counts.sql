-- Stops and charges per day for the filtered stops. Grain: one row per date with at least one stop.
with filtered as (
    select s.date_of_stop, s.n_charges
    from stops as s
    where {{ stop_filter }}
),

final as (
    select
        date_of_stop,
        cast(count(*) as bigint) as stops,
        cast(sum(n_charges) as bigint) as charges
    from filtered
    group by date_of_stop
)

select * from final
order by date_of_stop
