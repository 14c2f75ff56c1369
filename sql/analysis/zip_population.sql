-- Residents of the Montgomery County part of each ZIP (ZCTA), by race-alone category.
-- Grain: one row per zip5. Tract counts are allocated by the zip_tract weights (each tract's
-- weights sum to 1, so nobody is counted twice) and only county tracts (GEOID 24031...) count,
-- because stops are only located inside the county. census_tract race columns are percentages
-- of TotalPop (race alone, Hispanic included) and hispanic (any race).
with county_tracts as (
    select
        tractid,
        totalpop,
        white,
        black,
        asian,
        native,
        hispanic
    from census_tract
    where tractid like '24031%' and totalpop is not null
),

allocated as (
    select
        z.zip as zip5,
        sum(z.weight * t.totalpop) as residents,
        sum(z.weight * t.totalpop * coalesce(t.white, 0) / 100.0) as pop_white_alone,
        sum(z.weight * t.totalpop * coalesce(t.black, 0) / 100.0) as pop_black_alone,
        sum(z.weight * t.totalpop * coalesce(t.asian, 0) / 100.0) as pop_asian_alone,
        sum(z.weight * t.totalpop * coalesce(t.native, 0) / 100.0) as pop_native_alone,
        sum(z.weight * t.totalpop * coalesce(t.hispanic, 0) / 100.0) as pop_hispanic
    from zip_tract as z
    inner join county_tracts as t on t.tractid = z.tract
    group by z.zip
),

final as (
    select
        a.zip5,
        a.residents,
        a.pop_white_alone,
        a.pop_black_alone,
        a.pop_asian_alone,
        a.pop_native_alone,
        a.pop_hispanic,
        d.residents as residents_all,
        case when d.residents > 0 then a.residents / d.residents end as in_county_share,
        d.acs_year
    from allocated as a
    left join zip_demographics as d on d.zip5 = a.zip5
)

select * from final
