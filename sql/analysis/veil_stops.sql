-- Stops of Black and White drivers between 15:00 and 23:00 local clock time, for the veil of
-- darkness test; the exact inter-twilight window and the sunset/dusk split are applied in Python
-- (pipeline/analysis/veil_of_darkness.py) because they need sun times per date. Stops are counted,
-- not listed; n_stops is each row's weight in Python.
-- NOTE: few stops share a date and a minute, so this is still close to one row per stop (~98% at
-- county scale); Python collapses it to the model's cells (no date) before fitting.
-- Grain: one row per date_of_stop x clock_minute x race x district (district may be null).
with timed as (
    select
        date_of_stop,
        cast(extract(hour from time_of_stop) as integer) * 60
            + cast(extract(minute from time_of_stop) as integer) as clock_minute,
        race,
        district
    from stops
    where time_of_stop is not null
        and race in ('BLACK', 'WHITE')
),

final as (
    select
        date_of_stop,
        clock_minute,
        race,
        district,
        count(*) as n_stops
    from timed
    where clock_minute >= 900 and clock_minute < 1380
    group by date_of_stop, clock_minute, race, district
)

select * from final
