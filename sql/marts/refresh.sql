-- Small marts the dashboard reads, rebuilt in full each load (they are aggregates of stops).

-- mart_data_quality: one row per measure; how much of the data each caveat touches.
-- Grain: one row per measure. Denominators are stated in the measure name.
delete from mart_data_quality;

insert into mart_data_quality
with charges as (
    select
        count(*) as charges,
        sum(case when latitude is null then 1 else 0 end) as charges_without_location,
        sum(case when zip5 is null then 1 else 0 end) as charges_without_zip,
        sum(case when zip_status = 'outside_county' then 1 else 0 end) as charges_outside_county,
        sum(case when race is null or race = 'OTHER' then 1 else 0 end) as charges_race_unknown_or_other,
        sum(case when gender is null or gender = 'U' then 1 else 0 end) as charges_gender_unknown
    from moco_traffic_violations
),

stop_counts as (
    select count(*) as stops, sum(search_recorded) as stops_with_search_fields from stops
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
