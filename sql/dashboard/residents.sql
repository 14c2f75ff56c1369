-- Residents of Montgomery County (ACS 2015-2019 5-year), in total and by race, for the selected ZIP
-- codes or the whole county. Grain: one row.
-- Each county tract's residents are shared among its ZIP codes by zip_tract.weight (the weights of a
-- tract sum to 1), so the whole county adds up to the tract total and no one is counted twice.
-- Only the Montgomery County part of a ZIP that straddles the county line is counted, because only
-- stops there are in the data.
-- NOTE: ACS race-alone counts include Hispanic residents of that race, and Hispanic is of any race:
-- the categories overlap and their shares add up to more than 100%.
with county_tracts as (
    select tractid, totalpop, white, black, asian, native, hispanic
    from census_tract
    where substring(tractid, 1, 5) = '24031'
),

allocated as (
    select
        zt.weight * t.totalpop as residents,
        zt.weight * t.totalpop * t.white / 100.0 as white_alone,
        zt.weight * t.totalpop * t.black / 100.0 as black_alone,
        zt.weight * t.totalpop * t.asian / 100.0 as asian_alone,
        zt.weight * t.totalpop * t.native / 100.0 as native_alone,
        zt.weight * t.totalpop * t.hispanic / 100.0 as hispanic_any_race
    from county_tracts as t
    inner join zip_tract as zt on zt.tract = t.tractid
    where {{ zip_filter }}
),

final as (
    select
        cast(coalesce(sum(residents), 0) as double precision) as residents,
        cast(coalesce(sum(white_alone), 0) as double precision) as white_alone,
        cast(coalesce(sum(black_alone), 0) as double precision) as black_alone,
        cast(coalesce(sum(asian_alone), 0) as double precision) as asian_alone,
        cast(coalesce(sum(native_alone), 0) as double precision) as native_alone,
        cast(coalesce(sum(hispanic_any_race), 0) as double precision) as hispanic_any_race
    from allocated
)

select * from final
