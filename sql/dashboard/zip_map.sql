-- Stops per ZIP code with the residents and area measures the map needs.
-- Grain: one row per ZIP code that has Montgomery County residents or filtered stops.
-- the facts slot: a stop cube keeping zip5, or the stops themselves (dashboard/queries.py facts()).
-- residents_in_county: residents of the Montgomery County part of the ZIP (tract counts allocated by
-- zip_tract.weight); the rate's denominator, because stops outside the county are not in the data.
-- The rate itself (per 1,000 residents per year) is computed in one place: dashboard/rates.py.
-- poverty_rate, density_per_sqmi, residents_zcta: the whole ZCTA (zip_demographics), for overlays.
-- NOTE: residents are not the driving population; a ZIP with a highway or shopping centre has many
-- stops of people who live elsewhere.
with county_tracts as (
    select tractid, totalpop
    from census_tract
    where substring(tractid, 1, 5) = '24031'
),

zip_residents as (
    select zt.zip as zip5, sum(zt.weight * t.totalpop) as residents_in_county
    from county_tracts as t
    inner join zip_tract as zt on zt.tract = t.tractid
    group by zt.zip
),

zip_stops as (
    select s.zip5, sum(s.stops) as stops, sum(s.charges) as charges
    from {{ facts }} as s
    where {{ stop_filter }} and s.zip5 is not null
    group by s.zip5
),

zips as (
    select zip5 from zip_residents
    union
    select zip5 from zip_stops
),

final as (
    select
        z.zip5,
        cast(coalesce(st.stops, 0) as bigint) as stops,
        cast(coalesce(st.charges, 0) as bigint) as charges,
        cast(r.residents_in_county as double precision) as residents_in_county,
        cast(d.residents as double precision) as residents_zcta,
        cast(d.poverty_rate as double precision) as poverty_rate,
        cast(d.density_per_sqmi as double precision) as density_per_sqmi,
        cast(d.land_area_sqmi as double precision) as land_area_sqmi,
        d.notes
    from zips as z
    left join zip_stops as st on st.zip5 = z.zip5
    left join zip_residents as r on r.zip5 = z.zip5
    left join zip_demographics as d on d.zip5 = z.zip5
)

select * from final
order by zip5
