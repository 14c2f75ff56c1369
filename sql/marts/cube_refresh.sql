-- Refresh one stop cube ({{ cube }}) for the months named in stop_changes: delete those months, then
-- aggregate them again from the stops (the facts slot: stop_facts.sql, one stop per row, the same
-- rules the dashboard reads stops by when no cube fits), or from a finer cube refreshed just
-- before (pipeline/marts.py rollup_source: the same columns, every measure a sum, min, max or bit-or). Run in the load's transaction, after the stops rebuild, so the
-- cubes always equal an aggregate of the stops being served. A full build lists every month.
-- Grain: one row per (time grain x kept dimensions) with at least one stop; columns the cube does
-- not keep are filled with null by the slots (pipeline/marts.py), never by data.
-- Deletes and inserts join those months (never `in (subquery)`: PostgreSQL would plan a subplan).
delete from {{ cube }}
using changed_months as m
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
        {{ top_description }} as top_description,
        s.first_day,
        s.last_day,
        s.day_mask,
        s.stops,
        s.charges,
        s.stops_without_zip,
        s.search_recorded,
        s.searched,
        s.arrested,
        s.contraband_found
    from {{ facts }} as s
    inner join changed_months as m
        on m.stop_year = s.stop_year and m.stop_month = s.stop_month
),

final as (
    select
        date_of_stop, stop_year, stop_month, stop_weekday, stop_hour,
        race, gender, zip5, outcome, district, top_description,
        min(first_day) as first_day,
        max(last_day) as last_day,
        cast(bit_or(day_mask) as integer) as day_mask,
        cast(sum(stops) as bigint) as stops,
        cast(sum(charges) as bigint) as charges,
        cast(sum(stops_without_zip) as bigint) as stops_without_zip,
        cast(sum(search_recorded) as bigint) as search_recorded,
        cast(sum(searched) as bigint) as searched,
        cast(sum(arrested) as bigint) as arrested,
        cast(sum(contraband_found) as bigint) as contraband_found
    from scoped
    group by date_of_stop, stop_year, stop_month, stop_weekday, stop_hour,
        race, gender, zip5, outcome, district, top_description
)

select * from final;
