-- Totals for the filtered stops. Grain: one row.
-- charges = source rows (a stop has one or more charges); stops = distinct stops.
with filtered as (
    select s.stop_id, s.date_of_stop, s.n_charges, s.zip5
    from stops as s
    where {{ stop_filter }}
),

final as (
    select
        cast(count(*) as bigint) as stops,
        cast(coalesce(sum(n_charges), 0) as bigint) as charges,
        min(date_of_stop) as first_stop,
        max(date_of_stop) as last_stop,
        cast(count(distinct date_of_stop) as bigint) as days_with_stops,
        cast(coalesce(sum(case when zip5 is null then 1 else 0 end), 0) as bigint) as stops_without_zip
    from filtered
)

select * from final
