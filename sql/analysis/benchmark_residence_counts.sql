-- Stops by year, race and the driver's stated residence (state + city as typed, upper-cased).
-- Grain: one row per stop_year x race x driver_state x driver_city. Residence is classified in
-- Python (pipeline/analysis/places.py): the place list and spelling rules live there, once.
with stops_in as (
    select
        stop_year,
        race,
        upper(trim(driver_state)) as driver_state,
        upper(trim(driver_city)) as driver_city
    from stops
),

final as (
    select
        stop_year,
        race,
        driver_state,
        driver_city,
        count(*) as stops
    from stops_in
    group by stop_year, race, driver_state, driver_city
)

select * from final
