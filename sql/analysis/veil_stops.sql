-- Stops of Black and White drivers between 15:00 and 23:00 local clock time, for the veil of
-- darkness test; the exact inter-twilight window and the sunset/dusk split are applied in Python
-- (pipeline/analysis/veil.py) because they need sun times per date.
-- Grain: one row per stop.
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
    select date_of_stop, clock_minute, race, district
    from timed
    where clock_minute >= 900 and clock_minute < 1380
)

select * from final
