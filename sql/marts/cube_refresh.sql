-- Refresh one stop cube ({{ cube }}) for the months in refresh_months: delete those months, then
-- aggregate them again from stops. Run in the load's transaction, after the stops rebuild, so the
-- cubes always equal an aggregate of the stops being served. A full build lists every month.
-- Grain: one row per (time grain x kept dimensions) with at least one stop; columns the cube does
-- not keep are filled with null by the slots (pipeline/marts.py), never by data.
-- Deletes and inserts join refresh_months (never `in (subquery)`: PostgreSQL would plan a subplan).
delete from {{ cube }}
using (select distinct stop_year, stop_month from refresh_months) as m
where {{ cube }}.stop_year = m.stop_year and {{ cube }}.stop_month = m.stop_month;

insert into {{ cube }}
with scoped as (
    select
        {{ day }} as date_of_stop,
        s.stop_year,
        s.stop_month,
        {{ stop_weekday }} as stop_weekday,
        {{ stop_hour }} as stop_hour,
        {{ race }} as race,
        {{ gender }} as gender,
        {{ zip5 }} as zip5,
        {{ outcome }} as outcome,
        {{ district }} as district,
        s.n_charges,
        case when s.zip5 is null then 1 else 0 end as without_zip,
        s.search_recorded,
        -- The same denominators as outcomes_by_race.sql: search facts count only where recorded.
        case when s.search_recorded = 1 then s.searched else 0 end as searched,
        case when s.search_recorded = 1 then s.arrested else 0 end as arrested,
        case when s.search_recorded = 1 and s.searched = 1 then s.contraband_found else 0 end as contraband_found
    from stops as s
    inner join (select distinct stop_year, stop_month from refresh_months) as m
        on m.stop_year = s.stop_year and m.stop_month = s.stop_month
),

final as (
    select
        date_of_stop, stop_year, stop_month, stop_weekday, stop_hour,
        race, gender, zip5, outcome, district,
        cast(count(*) as bigint) as stops,
        cast(sum(n_charges) as bigint) as charges,
        cast(sum(without_zip) as bigint) as stops_without_zip,
        cast(sum(search_recorded) as bigint) as search_recorded,
        cast(sum(searched) as bigint) as searched,
        cast(sum(arrested) as bigint) as arrested,
        cast(sum(contraband_found) as bigint) as contraband_found
    from scoped
    group by date_of_stop, stop_year, stop_month, stop_weekday, stop_hour,
        race, gender, zip5, outcome, district
)

select * from final;
