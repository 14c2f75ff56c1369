-- Curated rows: landing rows with their keys, district, ZIP5 and partition columns.
-- Grain: one row per charge. zip_lookup(latitude, longitude, zip5, zip_status) comes from geo.py,
-- dup_ordinals from keys.sql.
--   content_key: content hash + the ordinal among identical rows in the batch.
--   row_id: Socrata's :id when the source has one (stable across edits), else 'h:' || content_key.
-- A view over the landing files (the variable curate_files: all of them, or one year's while
-- zones.merge_curated writes that year), not a table: at 2M rows a materialised copy would spill.
create or replace temp view curated as
with landing_rows as (
    select * from read_parquet(getvariable('curate_files'), filename = true, file_row_number = true)
),

keyed as (
    select
        l.*,
        l.content_hash || ':' || coalesce(d.dup_ordinal, 1) as content_key
    from landing_rows as l
    left join dup_ordinals as d on l.filename = d.filename and l.file_row_number = d.file_row_number
),

final as (
    select
        coalesce(k.src_row_id, 'h:' || k.content_key) as row_id,
        k.stop_id,
        k.content_key,
        k.source,
        k.source_updated_at,
        k.load_id,
        k.source_file,
        k.raw_line,
        k.seq_id, k.date_of_stop, k.time_of_stop, k.agency, k.subagency, k.description, k.location,
        k.latitude, k.longitude, k.accident, k.belts, k.personal_injury, k.property_damage, k.fatal,
        k.commercial_license, k.hazmat, k.commercial_vehicle, k.alcohol, k.work_zone, k.search_conducted,
        k.search_disposition, k.search_outcome, k.search_reason, k.search_reason_for_stop, k.search_type,
        k.search_arrest_reason, k.state, k.vehicle_type, k.vehicle_year, k.make, k.model, k.color,
        k.violation_type, k.charge, k.article, k.contributed_to_accident, k.race, k.gender, k.driver_city,
        k.driver_state, k.dl_state, k.arrest_type,
        -- NOTE: 2012-2016 exports write "3rd district, Silver Spring"; current ones "3rd District, ...".
        regexp_replace(k.subagency, '^(\d+(st|nd|rd|th)) district', '\1 District', 'i') as district,
        z.zip5,
        coalesce(z.zip_status, 'no_coordinates') as zip_status,
        year(k.date_of_stop) as stop_year,
        month(k.date_of_stop) as stop_month
    from keyed as k
    left join zip_lookup as z
        on k.latitude = z.latitude and k.longitude = z.longitude
)

select * from final
