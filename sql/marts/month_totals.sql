-- Per month of stop: the charges counted from the charges (mart_charge_months), and the charges and
-- stops counted from the stops (cube_month), both refreshed by this load for the months it changed.
-- The load's count checks compare them with each other and with the curated zone's per-month rows
-- (pipeline/load.py), reading a few hundred rows instead of every charge and stop.
-- Grain: one row per month with a charge or a stop.
with charges as (
    select stop_year, stop_month, sum(charges) as charges
    from mart_charge_months
    group by stop_year, stop_month
),

stops as (
    select stop_year, stop_month, sum(charges) as stop_charges, sum(stops) as stops
    from cube_month
    group by stop_year, stop_month
),

final as (
    select
        coalesce(c.stop_year, s.stop_year) as stop_year,
        coalesce(c.stop_month, s.stop_month) as stop_month,
        cast(coalesce(c.charges, 0) as bigint) as charges,
        cast(coalesce(s.stop_charges, 0) as bigint) as stop_charges,
        cast(coalesce(s.stops, 0) as bigint) as stops
    from charges as c
    full outer join stops as s
        on s.stop_year = c.stop_year and s.stop_month = c.stop_month
)

select stop_year, stop_month, charges, stop_charges, stops from final order by stop_year, stop_month
