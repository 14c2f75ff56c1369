-- Stops by year, ZIP5 of the stop's location, and race (stops without a ZIP5 are left out here
-- and counted in analysis_caveats).
-- Grain: one row per stop_year x zip5 x race.
with located as (
    select stop_year, zip5, race
    from stops
    where zip5 is not null
),

final as (
    select stop_year, zip5, race, count(*) as stops
    from located
    group by stop_year, zip5, race
)

select * from final
