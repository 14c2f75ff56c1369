-- Non-null counts of every canonical column over the charges the warehouse holds, for the schema
-- contract when the run log has no null-rate history yet (a warehouse loaded before null rates were
-- recorded, or whose history is gone): a first run is judged against the data it would change.
-- Grain: one row. The columns are pipeline.schema.SOURCE_COLUMNS (tests/test_schema_contract.py).
with final as (
    select
        count(*) as n_rows,
        count(seq_id) as seq_id,
        count(date_of_stop) as date_of_stop,
        count(time_of_stop) as time_of_stop,
        count(agency) as agency,
        count(subagency) as subagency,
        count(description) as description,
        count(location) as location,
        count(latitude) as latitude,
        count(longitude) as longitude,
        count(accident) as accident,
        count(belts) as belts,
        count(personal_injury) as personal_injury,
        count(property_damage) as property_damage,
        count(fatal) as fatal,
        count(commercial_license) as commercial_license,
        count(hazmat) as hazmat,
        count(commercial_vehicle) as commercial_vehicle,
        count(alcohol) as alcohol,
        count(work_zone) as work_zone,
        count(search_conducted) as search_conducted,
        count(search_disposition) as search_disposition,
        count(search_outcome) as search_outcome,
        count(search_reason) as search_reason,
        count(search_reason_for_stop) as search_reason_for_stop,
        count(search_type) as search_type,
        count(search_arrest_reason) as search_arrest_reason,
        count(state) as state,
        count(vehicle_type) as vehicle_type,
        count(vehicle_year) as vehicle_year,
        count(make) as make,
        count(model) as model,
        count(color) as color,
        count(violation_type) as violation_type,
        count(charge) as charge,
        count(article) as article,
        count(contributed_to_accident) as contributed_to_accident,
        count(race) as race,
        count(gender) as gender,
        count(driver_city) as driver_city,
        count(driver_state) as driver_state,
        count(dl_state) as dl_state,
        count(arrest_type) as arrest_type
    from moco_traffic_violations
)

select * from final
