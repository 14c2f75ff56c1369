-- Standardise one batch: src_rows (all VARCHAR, canonical names) -> typed rows + quarantine reason.
-- Grain: one row per source record (charge). Engine: DuckDB (the pipeline's processing engine).
-- A row with a non-null quarantine_reason goes to the quarantine zone, never to landing.
-- Source flags are "Yes"/"No" (export, API) or "true"/"false"/"TRUE" (some exports); "Unknown" -> null.
create or replace temp macro yes_no(x) as
    case when x in ('YES', 'Y', 'TRUE', '1') then true when x in ('NO', 'N', 'FALSE', '0') then false end;

-- The warehouse's text widths (sql/warehouse/schema.sql) in bytes, so one rule fits every backend:
-- Redshift's varchar(n) counts bytes, PostgreSQL's characters, DuckDB neither. A longer value keeps
-- its first n bytes, less a character those bytes would cut in two: decode(..., 'ignore') drops
-- the incomplete UTF-8 sequence at the end (the only invalid bytes there can be, since x is valid
-- text). So the result is the longest prefix of whole characters (code points) within n bytes:
-- never '' for a long value of 2-4 byte characters, and within n characters for PostgreSQL too.
-- NOTE: a character is a code point; a combining mark can be cut from its base letter.
create or replace temp macro clip(x, n) as
    case when strlen(x) <= n then x else decode(encode(x)[1:n], 'ignore') end;
create or replace temp macro too_long(x, n) as case when strlen(x) > n then 1 else 0 end;

-- A view: landing and quarantine each read it once, which is cheaper than materialising 2M typed rows.
create or replace temp view typed as
-- Free-text columns are not trimmed: at 2M rows trim() on every column costs seconds, and
-- padding in free text changes nothing downstream. Typed and coded columns are trimmed.
with trimmed as (
    select
        raw_line,
        source_file,
        nullif(trim(row_id), '') as src_row_id,
        nullif(trim(source_updated_at), '') as src_updated_at,
        nullif(seq_id, '') as seq_id,
        nullif(trim(date_of_stop), '') as date_txt,
        nullif(trim(time_of_stop), '') as time_txt,
        nullif(agency, '') as agency,
        nullif(subagency, '') as subagency,
        nullif(description, '') as description,
        nullif(location, '') as location,
        nullif(trim(latitude), '') as lat_txt,
        nullif(trim(longitude), '') as lon_txt,
        upper(nullif(trim(accident), '')) as accident,
        upper(nullif(trim(belts), '')) as belts,
        upper(nullif(trim(personal_injury), '')) as personal_injury,
        upper(nullif(trim(property_damage), '')) as property_damage,
        upper(nullif(trim(fatal), '')) as fatal,
        upper(nullif(trim(commercial_license), '')) as commercial_license,
        upper(nullif(trim(hazmat), '')) as hazmat,
        upper(nullif(trim(commercial_vehicle), '')) as commercial_vehicle,
        upper(nullif(trim(alcohol), '')) as alcohol,
        upper(nullif(trim(work_zone), '')) as work_zone,
        upper(nullif(trim(search_conducted), '')) as search_conducted,
        nullif(search_disposition, '') as search_disposition,
        nullif(search_outcome, '') as search_outcome,
        nullif(search_reason, '') as search_reason,
        nullif(search_reason_for_stop, '') as search_reason_for_stop,
        nullif(search_type, '') as search_type,
        nullif(search_arrest_reason, '') as search_arrest_reason,
        nullif(trim(state), '') as state,
        nullif(vehicle_type, '') as vehicle_type,
        nullif(trim(vehicle_year), '') as vehicle_year_txt,
        nullif(make, '') as make,
        nullif(model, '') as model,
        nullif(color, '') as color,
        nullif(trim(violation_type), '') as violation_type,
        nullif(charge, '') as charge,
        nullif(article, '') as article,
        upper(nullif(trim(contributed_to_accident), '')) as contributed_to_accident,
        upper(nullif(trim(race), '')) as race,
        upper(nullif(trim(gender), '')) as gender,
        nullif(driver_city, '') as driver_city,
        nullif(trim(driver_state), '') as driver_state,
        nullif(trim(dl_state), '') as dl_state,
        nullif(trim(arrest_type), '') as arrest_type
    from src_rows
),

-- NOTE: a value longer than its warehouse column is clipped to it (free text such as a 600-character
-- location exists) and counted in n_clipped; the row is kept. tests/test_value_rules.py keeps these
-- widths equal to the schema's.
clipped as (
    select
        * replace (
        clip(seq_id, 64) as seq_id,
        clip(agency, 16) as agency,
        clip(subagency, 128) as subagency,
        clip(description, 1024) as description,
        clip(location, 512) as location,
        clip(search_disposition, 256) as search_disposition,
        clip(search_outcome, 64) as search_outcome,
        clip(search_reason, 256) as search_reason,
        clip(search_reason_for_stop, 256) as search_reason_for_stop,
        clip(search_type, 64) as search_type,
        clip(search_arrest_reason, 256) as search_arrest_reason,
        clip(state, 16) as state,
        clip(vehicle_type, 64) as vehicle_type,
        clip(make, 64) as make,
        clip(model, 64) as model,
        clip(color, 64) as color,
        clip(violation_type, 16) as violation_type,
        clip(charge, 64) as charge,
        clip(article, 64) as article,
        clip(race, 32) as race,
        clip(gender, 4) as gender,
        clip(driver_city, 128) as driver_city,
        clip(driver_state, 16) as driver_state,
        clip(dl_state, 16) as dl_state,
        clip(arrest_type, 64) as arrest_type
        ),
        too_long(seq_id, 64) + too_long(agency, 16) + too_long(subagency, 128) + too_long(description, 1024) + too_long(location, 512) + too_long(search_disposition, 256) + too_long(search_outcome, 64) + too_long(search_reason, 256) + too_long(search_reason_for_stop, 256) + too_long(search_type, 64) + too_long(search_arrest_reason, 256) + too_long(state, 16) + too_long(vehicle_type, 64) + too_long(make, 64) + too_long(model, 64) + too_long(color, 64) + too_long(violation_type, 16) + too_long(charge, 64) + too_long(article, 64) + too_long(race, 32) + too_long(gender, 4) + too_long(driver_city, 128) + too_long(driver_state, 16) + too_long(dl_state, 16) + too_long(arrest_type, 64) as n_clipped
    from trimmed
),

parsed as (
    select
        *,
        -- Export: 11/23/2016 or 1/2/2025; API: 2016-11-23T00:00:00.000.
        coalesce(
            try_strptime(date_txt, '%m/%d/%Y'),
            try_cast(date_txt as timestamp)
        )::date as date_of_stop,
        coalesce(try_cast(time_txt as time), try_strptime(time_txt, '%H:%M')::time) as time_of_stop,
        try_cast(lat_txt as double) as lat_num,
        try_cast(lon_txt as double) as lon_num,
        try_cast(src_updated_at as timestamp) as source_updated_at
    from clipped
),

checked as (
    select
        *,
        case
            when strlen(src_row_id) > 80 then 'row id longer than 80 bytes: ' || left(src_row_id, 100)
            when date_txt is null then 'missing date_of_stop'
            when date_of_stop is null then 'unparseable date_of_stop: ' || date_txt
            when date_of_stop < date '2012-01-01' or date_of_stop > current_date + 1
                then 'date_of_stop out of range: ' || date_txt
            when time_txt is null then 'missing time_of_stop'
            when time_of_stop is null then 'unparseable time_of_stop: ' || time_txt
            when (lat_txt is not null and lat_num is null) or (lon_txt is not null and lon_num is null)
                then 'unparseable coordinates: ' || coalesce(lat_txt, '') || ',' || coalesce(lon_txt, '')
            when abs(lat_num) > 90 or abs(lon_num) > 180
                then 'impossible coordinates: ' || lat_txt || ',' || lon_txt
            when race is not null and race not in ('WHITE', 'BLACK', 'HISPANIC', 'ASIAN', 'NATIVE AMERICAN', 'OTHER')
                then 'race not an allowed value (shifted fields?): ' || race
            when gender is not null and gender not in ('M', 'F', 'U')
                then 'gender not an allowed value: ' || gender
            when violation_type is null then 'missing violation_type'
            when violation_type not in ('Citation', 'Warning', 'ESERO', 'SERO')
                then 'violation_type not an allowed value: ' || violation_type
            when src_updated_at is not null and source_updated_at is null
                then 'unparseable :updated_at: ' || src_updated_at
        end as quarantine_reason
    from parsed
),

final as (
    select
        raw_line,
        source_file,
        src_row_id,
        quarantine_reason,
        source_updated_at,
        seq_id,
        date_of_stop,
        time_of_stop,
        agency,
        subagency,
        description,
        location,
        -- NOTE: the data writes 0 for an unknown coordinate; 0 is not a place in the county.
        case when lat_num = 0 or lon_num = 0 then null else lat_num end as latitude,
        case when lat_num = 0 or lon_num = 0 then null else lon_num end as longitude,
        yes_no(accident) as accident,
        yes_no(belts) as belts,
        yes_no(personal_injury) as personal_injury,
        yes_no(property_damage) as property_damage,
        yes_no(fatal) as fatal,
        yes_no(commercial_license) as commercial_license,
        yes_no(hazmat) as hazmat,
        yes_no(commercial_vehicle) as commercial_vehicle,
        yes_no(alcohol) as alcohol,
        yes_no(work_zone) as work_zone,
        yes_no(search_conducted) as search_conducted,
        yes_no(contributed_to_accident) as contributed_to_accident,
        search_disposition,
        search_outcome,
        search_reason,
        search_reason_for_stop,
        search_type,
        search_arrest_reason,
        state,
        vehicle_type,
        -- NOTE: vehicle year is free text in the source ("0", "2105"); out-of-range years become null.
        case when try_cast(vehicle_year_txt as integer) between 1900 and year(current_date) + 2
            then try_cast(vehicle_year_txt as integer) end as vehicle_year,
        make,
        model,
        color,
        violation_type,
        charge,
        article,
        race,
        gender,
        driver_city,
        driver_state,
        dl_state,
        arrest_type,
        date_txt,
        time_txt,
        lat_txt,
        lon_txt,
        n_clipped
    from checked
)

select * from final
