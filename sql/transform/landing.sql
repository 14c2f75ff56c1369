-- Landing rows: the typed rows that passed every check, with their keys.
-- Grain: one row per charge.
--   content_key: hash of the typed canonical values + the ordinal among identical rows in the batch.
--     NOTE: exact duplicate rows are real (one stop, several identical charges), so the ordinal
--     keeps them apart instead of collapsing them. The same row from the CSV export and from the
--     API hashes the same, which lets an API load replace rows first loaded from a file.
--   row_id: Socrata's :id when the source has one (stable across edits), else 'h:' || content_key.
--   stop_id: SeqID + date + time when SeqID exists; else date, time, place, driver and vehicle.
--     NOTE: on the 2019 sample (439 charges) both rules give the same 297 stops.
create or replace temp table landing as
with valid as (
    select * from typed where quarantine_reason is null
),

hashed as (
    select
        *,
        md5(concat_ws('|',
            coalesce(seq_id, ''), coalesce(cast(date_of_stop as varchar), ''), coalesce(cast(time_of_stop as varchar), ''),
            coalesce(agency, ''), coalesce(lower(subagency), ''), coalesce(description, ''), coalesce(location, ''),
            coalesce(cast(latitude as varchar), ''), coalesce(cast(longitude as varchar), ''),
            coalesce(cast(accident as varchar), ''), coalesce(cast(belts as varchar), ''),
            coalesce(cast(personal_injury as varchar), ''), coalesce(cast(property_damage as varchar), ''),
            coalesce(cast(fatal as varchar), ''), coalesce(cast(commercial_license as varchar), ''),
            coalesce(cast(hazmat as varchar), ''), coalesce(cast(commercial_vehicle as varchar), ''),
            coalesce(cast(alcohol as varchar), ''), coalesce(cast(work_zone as varchar), ''),
            coalesce(state, ''), coalesce(vehicle_type, ''), coalesce(cast(vehicle_year as varchar), ''),
            coalesce(make, ''), coalesce(model, ''), coalesce(color, ''), coalesce(violation_type, ''),
            coalesce(charge, ''), coalesce(race, ''), coalesce(gender, ''), coalesce(driver_city, ''),
            coalesce(driver_state, ''), coalesce(dl_state, ''), coalesce(arrest_type, '')
        )) as content_hash
    from valid
),

numbered as (
    select
        *,
        -- Identical rows are interchangeable, so no ORDER BY: only how many there are matters.
        row_number() over (partition by content_hash) as dup_ordinal
    from hashed
),

final as (
    select
        coalesce(src_row_id, 'h:' || content_hash || ':' || dup_ordinal) as row_id,
        md5(case
            when seq_id is not null then concat_ws('|', seq_id, cast(date_of_stop as varchar), cast(time_of_stop as varchar))
            else concat_ws('|',
                cast(date_of_stop as varchar), cast(time_of_stop as varchar), coalesce(location, ''),
                coalesce(lower(subagency), ''), coalesce(race, ''), coalesce(gender, ''),
                coalesce(driver_city, ''), coalesce(driver_state, ''), coalesce(dl_state, ''),
                coalesce(make, ''), coalesce(model, ''), coalesce(color, ''),
                coalesce(cast(vehicle_year as varchar), ''),
                coalesce(cast(latitude as varchar), ''), coalesce(cast(longitude as varchar), ''))
        end) as stop_id,
        content_hash || ':' || dup_ordinal as content_key,
        cast(:source as varchar) as source,
        source_updated_at,
        cast(:load_id as varchar) as load_id,
        source_file,
        raw_line,
        seq_id, date_of_stop, time_of_stop, agency, subagency, description, location, latitude, longitude,
        accident, belts, personal_injury, property_damage, fatal, commercial_license, hazmat,
        commercial_vehicle, alcohol, work_zone, search_conducted, search_disposition, search_outcome,
        search_reason, search_reason_for_stop, search_type, search_arrest_reason, state, vehicle_type,
        vehicle_year, make, model, color, violation_type, charge, article, contributed_to_accident,
        race, gender, driver_city, driver_state, dl_state, arrest_type
    from numbered
)

select * from final
