-- Data-quality measures per stop year, for analysis_caveats.
-- Grain: one row per stop_year. Counts are of stops (not charges) except `charges`.
with per_stop as (
    select
        stop_year,
        n_charges,
        case when race is null then 1 else 0 end as race_missing,
        case when race = 'OTHER' then 1 else 0 end as race_other,
        case when latitude is null then 1 else 0 end as no_location,
        case when zip5 is null then 1 else 0 end as no_zip5,
        case when zip_status = 'outside_county' then 1 else 0 end as outside_county,
        case when district is null then 1 else 0 end as district_missing,
        case when lower(district) like 'headquarters%' then 1 else 0 end as district_headquarters,
        case when time_of_stop is null then 1 else 0 end as time_missing,
        case when seq_id is null then 1 else 0 end as no_seq_id,
        search_recorded,
        searched
    from stops
),

final as (
    select
        stop_year,
        count(*) as stops,
        sum(n_charges) as charges,
        sum(race_missing) as race_missing,
        sum(race_other) as race_other,
        sum(no_location) as no_location,
        sum(no_zip5) as no_zip5,
        sum(outside_county) as outside_county,
        sum(district_missing) as district_missing,
        sum(district_headquarters) as district_headquarters,
        sum(time_missing) as time_missing,
        sum(no_seq_id) as no_seq_id,
        sum(search_recorded) as search_recorded,
        sum(searched) as searched
    from per_stop
    group by stop_year
)

select * from final
