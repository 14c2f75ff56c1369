-- Landing rows: every typed row of the batch with its content hash and stop key, streamed once from
-- the source (transform.write_landing splits them: quarantine_reason null -> landing zone, else ->
-- quarantine zone; in_window false -> counted and skipped by --since/--until).
-- Grain: one row per source record (charge).
--   content_hash: hash of the typed canonical values. The same row from the CSV export and from the
--     API hashes the same, which lets an API load replace rows first loaded from a file.
--     NOTE: exact duplicate rows are real (one stop, several identical charges); curate.sql adds the
--     ordinal among identical rows so they stay apart instead of collapsing.
--   stop_id: SeqID + date + time when SeqID exists; else date, time, place, driver and vehicle.
--     NOTE: on the 2019 sample (439 charges) both rules give the same 297 stops.
with hashed as (
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
    from typed
),

-- NOTE: an API row (:keyed) without its :id cannot be upserted: keyed by its content hash it would
-- load beside the same charge with its id. It is quarantined, never given a content key.
identified as (
    select
        * replace (
            case
                when cast(:keyed as boolean) and src_row_id is null
                    then 'missing :id: an API row without its row id cannot be upserted'
                else quarantine_reason
            end as quarantine_reason
        )
    from hashed
),

final as (
    select
        content_hash,
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
        src_row_id,
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
        race, gender, driver_city, driver_state, dl_state, arrest_type,
        quarantine_reason,
        n_clipped,
        -- Raw text only for rejected rows: the quarantine keeps it so a row can be repaired.
        case when quarantine_reason is not null then concat_ws(' | ',
            date_txt, time_txt, subagency, lat_txt, lon_txt, violation_type, race, gender, description) end as raw_text,
        date_of_stop is null
            or ((cast(:since as date) is null or date_of_stop >= cast(:since as date))
                and (cast(:until as date) is null or date_of_stop <= cast(:until as date))) as in_window
    from identified
)

select * from final
