-- Small marts the dashboard reads, rebuilt each load from the month-by-month aggregates the same
-- load has just refreshed (a few hundred rows), never from every charge or stop.

-- mart_data_quality: one row per measure; how much of the data each caveat touches.
-- Grain: one row per measure. Denominators are stated in the measure name.
-- The charges' measures come from mart_charge_months (charge_months_refresh.sql), the stops' from
-- cube_month (every stop, by month). Sums over no row are null, as the counts over every charge
-- were (only the two counts are 0 then).
delete from mart_data_quality;

insert into mart_data_quality
with charges as (
    select
        cast(coalesce(sum(charges), 0) as bigint) as charges,
        cast(sum(charges_without_location) as bigint) as charges_without_location,
        cast(sum(charges_without_zip) as bigint) as charges_without_zip,
        cast(sum(charges_outside_county) as bigint) as charges_outside_county,
        cast(sum(charges_race_unknown_or_other) as bigint) as charges_race_unknown_or_other,
        cast(sum(charges_gender_unknown) as bigint) as charges_gender_unknown
    from mart_charge_months
),

stop_counts as (
    select
        cast(coalesce(sum(stops), 0) as bigint) as stops,
        cast(sum(search_recorded) as bigint) as stops_with_search_fields
    from cube_month
),

quarantined as (
    select count(*) as quarantined_rows from quarantine_rows
),

final as (
    select 'charges (rows)' as measure, charges as value, charges as denominator from charges
    union all select 'stops', stops, stops from stop_counts
    union all select 'charges without location', charges_without_location, charges from charges
    union all select 'charges without ZIP5', charges_without_zip, charges from charges
    union all select 'charges located outside the county', charges_outside_county, charges from charges
    union all select 'charges with race OTHER or missing', charges_race_unknown_or_other, charges from charges
    union all select 'charges with gender unknown', charges_gender_unknown, charges from charges
    union all select 'stops with search fields recorded', stops_with_search_fields, stops from stop_counts
    union all select 'quarantined rows (all loads)', quarantined_rows, cast(null as bigint) from quarantined
)

select * from final;
